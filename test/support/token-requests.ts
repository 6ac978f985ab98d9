// Form POSTs to a running provider: get a token, introspect it, revoke it.

/** A registered client's id and secret, as a test uses them. */
export interface Credentials {
  readonly id: string;
  readonly secret: string;
}

/** `Authorization: Basic …` for `credentials`, form-encoding both parts as RFC 6749 §2.3.1 asks. */
export function basicAuthorization(credentials: Credentials): string {
  const encode = (text: string) => encodeURIComponent(text).replaceAll('%20', '+');
  return `Basic ${Buffer.from(`${encode(credentials.id)}:${encode(credentials.secret)}`).toString('base64')}`;
}

/** POSTs `form` to `url`, authenticating with client_secret_basic when `credentials` are given. */
export function postForm(url: string, form: Record<string, string>, credentials?: Credentials): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: credentials ? { Authorization: basicAuthorization(credentials) } : {},
    body: new URLSearchParams(form),
  });
}

/** Gets an access token by the client credentials grant; fails the test if none is issued. */
export async function issueAccessToken(
  baseUrl: string,
  credentials: Credentials,
  form: Record<string, string> = {},
): Promise<string> {
  const response = await postForm(
    `${baseUrl}/oauth2/token`,
    { grant_type: 'client_credentials', ...form },
    credentials,
  );
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 200 || typeof body.access_token !== 'string') {
    throw new Error(`token request failed with ${response.status}: ${JSON.stringify(body)}`);
  }
  return body.access_token;
}

/** Introspects `token` as `credentials` and returns the status and JSON body. */
export async function introspectToken(
  baseUrl: string,
  credentials: Credentials,
  token: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await postForm(`${baseUrl}/oauth2/introspect`, { token, ...extra }, credentials);
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    headers: response.headers,
  };
}

/** Revokes `token` as `credentials` and returns the status and the body as text. */
export async function revokeToken(
  baseUrl: string,
  credentials: Credentials,
  token: string,
  extra: Record<string, string> = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const response = await postForm(`${baseUrl}/oauth2/revoke`, { token, ...extra }, credentials);
  return { status: response.status, text: await response.text(), headers: response.headers };
}
