// Exact scope and audience matching: a requested value must be allowed verbatim.

import type { AudienceStrategy, ScopeStrategy } from '../core/index.js';

/** Grants a scope only when the client's allowed scopes contain it exactly. */
export const exactScopeStrategy: ScopeStrategy = (allowed, requested) => allowed.includes(requested);

/** Grants an audience only when the client's allowed audiences contain it exactly. */
export const exactAudienceStrategy: AudienceStrategy = (allowed, requested) => allowed.includes(requested);
