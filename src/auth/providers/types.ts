// The provider interface of sign-in beyond passwords, in GoTrue's shape: one small interface per
// provider kind and a factory (index.ts) that reads config. An OAuth provider turns a prepared
// request into the provider's authorisation URL, and the provider's return into a ProviderUser; an
// OIDC provider also verifies ID tokens handed to it directly (POST /token?grant_type=id_token).
// The password kind (LDAP) lives in src/auth/ldap/.

/** An account as the provider vouches for it. `claims` become auth.identities.identity_data. */
export interface ProviderUser {
  /** The provider's stable id for the account (OIDC `sub`, GitHub's numeric id). */
  id: string;
  email: string | null;
  /** Only a verified address may be matched to an existing account. */
  emailVerified: boolean;
  /** GoTrue's identity_data fields (iss, sub, provider_id, email, email_verified, name, full_name, avatar_url, picture, …). */
  claims: Record<string, unknown>;
  /** The provider's own tokens: handed back to the app once (provider_token), never stored. */
  accessToken?: string;
  refreshToken?: string;
}

export interface AuthorizationRequest {
  state: string;
  nonce: string;
  /** PKCE between Plinth and the provider (independent of the app's own PKCE with Plinth). */
  codeVerifier: string;
  redirectUri: string;
  /** Scopes asked for on top of the preset's (from config and the app's `scopes`). */
  scopes: string[];
  /** Extra query parameters the app passed (queryParams), minus the ones Plinth sets itself. */
  params: Record<string, string>;
}

export interface CallbackChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
  redirectUri: string;
}

export interface OAuthProvider {
  readonly name: string;
  /** Issues ID tokens (OpenID Connect): signInWithIdToken works with it. */
  readonly oidc: boolean;
  authorizationUrl(req: AuthorizationRequest): Promise<URL>;
  /** Checks state/nonce/issuer, trades the code server-side and reads the account. `params` are the callback's. */
  callback(params: URLSearchParams, checks: CallbackChecks): Promise<ProviderUser>;
  /** Verifies an ID token obtained by the app itself (native sign-in). */
  verifyIdToken?(idToken: string, nonce: string | undefined): Promise<ProviderUser>;
}

/** A provider refused or failed: rendered as an OAuth error on the redirect, or a GoTrue error on /token. */
export class ProviderError extends Error {
  constructor(
    readonly code: string,
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
  }
}
