// The little of oidc-provider's API the benchmark uses (the package ships no types).
declare module 'oidc-provider' {
  import type { RequestListener } from 'node:http';

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    callback(): RequestListener;
    on(event: string, listener: (...args: never[]) => void): this;
  }
}
