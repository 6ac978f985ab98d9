// The how-to's token handler: newAccessRequest → newAccessResponse → writeAccessResponse, or writeAccessError.

import type { HttpRequest, Provider, Session } from '../../src/index.js';

/** Serves the token endpoint for `provider`, exactly as the client credentials how-to does. */
export function createTokenHandler(provider: Provider) {
  return async (request: HttpRequest): Promise<Response> => {
    // The client credentials grant has no resource owner: the session stays empty and the
    // token's subject is the client itself.
    const session: Session = {};
    let accessRequest;
    try {
      accessRequest = await provider.newAccessRequest(request, session);
    } catch (error) {
      return provider.writeAccessError(undefined, error);
    }
    try {
      const accessResponse = await provider.newAccessResponse(accessRequest);
      return provider.writeAccessResponse(accessRequest, accessResponse);
    } catch (error) {
      return provider.writeAccessError(accessRequest, error);
    }
  };
}
