// The OAuth providers of an auth context: built once from its config on first use (no network until
// a provider is used), kept beside the context rather than in it so the context's shape stays the
// flows'. Tests can install their own map (test doubles) with useProviders.
import type { AuthContext } from "../context.ts";
import { createOAuthProviders, type OAuthProviders } from "../providers/index.ts";

const byContext = new WeakMap<AuthContext, OAuthProviders>();

export function providersFor(ctx: AuthContext): OAuthProviders {
  let p = byContext.get(ctx);
  if (!p) {
    p = createOAuthProviders(ctx.config);
    byContext.set(ctx, p);
  }
  return p;
}

export function useProviders(ctx: AuthContext, providers: OAuthProviders): void {
  byContext.set(ctx, providers);
}
