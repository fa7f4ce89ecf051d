// GET /settings, /health and /.well-known/jwks.json.
import { Elysia } from "elysia";
import { VERSION } from "../../version.ts";
import type { AuthContext } from "../context.ts";
import { reply } from "../errors.ts";
import { enabledProviderNames } from "../providers/index.ts";
import { keyRingFor } from "../../keys/ring.ts";
import { jwksResponse } from "../../keys/jwks.ts";

/** The OAuth providers auth-js knows; Plinth has none of them enabled (yet). */
const OAUTH_PROVIDERS = [
  "apple",
  "azure",
  "bitbucket",
  "discord",
  "facebook",
  "figma",
  "fly",
  "github",
  "gitlab",
  "google",
  "keycloak",
  "kakao",
  "linkedin",
  "linkedin_oidc",
  "notion",
  "slack",
  "slack_oidc",
  "spotify",
  "twitch",
  "twitter",
  "workos",
  "zoom",
];

export const metaRoutes = (ctx: AuthContext) => {
  const settings = () => ({
    external: {
      ...Object.fromEntries(OAUTH_PROVIDERS.map((p) => [p, false])),
      ...Object.fromEntries(enabledProviderNames(ctx.config).map((p) => [p, true])),
      anonymous_users: ctx.config.auth.enableAnonymous,
      email: true,
      phone: ctx.sms !== null,
      saml: false,
    },
    disable_signup: !ctx.config.auth.enableSignup,
    mailer_autoconfirm: ctx.autoconfirm,
    phone_autoconfirm: ctx.autoconfirm,
    sms_provider: ctx.sms ? ctx.config.sms.provider : "",
    saml_enabled: false,
    mfa_enabled: false,
  });
  return (
    new Elysia()
      .get("/settings", () => reply(settings()))
      .get("/health", () => reply({ version: VERSION, name: "GoTrue", description: "GoTrue is a user registration and authentication API" }))
      // The asymmetric keys in use and on standby (never the HS256 secret): auth-js getClaims() verifies
      // tokens against them locally (an HS256 token it sends to GET /user instead).
      .get("/.well-known/jwks.json", ({ request }) => jwksResponse(keyRingFor(ctx.db, { config: ctx.config, jwtSecret: ctx.secret, log: ctx.log }), request))
  );
};
