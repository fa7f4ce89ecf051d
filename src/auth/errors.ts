// Auth errors: PlinthError with GoTrue's stable codes and messages, and the one renderer that puts
// them on the wire in GoTrue's shape ({code, message} + legacy msg/error_code, x-sb-error-code,
// X-Supabase-Api-Version) — including `weak_password.reasons`, which the shared renderer lacks.
import { PlinthError, isPlinthError } from "../errors.ts";

export const API_VERSION = "2024-01-01";

export class WeakPasswordError extends PlinthError {
  constructor(
    message: string,
    readonly reasons: string[],
  ) {
    super(422, "weak_password", message);
  }
}

const e = (status: number, code: string, message: string, headers?: Record<string, string>) => new PlinthError(status, code, message, null, null, headers);

export const AuthErrors = {
  validation: (message: string) => e(400, "validation_failed", message),
  unprocessable: (message: string) => e(422, "validation_failed", message),
  invalidCredentials: () => e(400, "invalid_credentials", "Invalid login credentials"),
  emailNotConfirmed: () => e(400, "email_not_confirmed", "Email not confirmed"),
  phoneNotConfirmed: () => e(400, "phone_not_confirmed", "Phone not confirmed"),
  userBanned: () => e(400, "user_banned", "User is banned"),
  userAlreadyExists: (message = "User already registered") => e(422, "user_already_exists", message),
  emailExists: () => e(422, "email_exists", "A user with this email address has already been registered"),
  phoneExists: () => e(422, "phone_exists", "A user with this phone number has already been registered"),
  signupDisabled: () => e(422, "signup_disabled", "Signups not allowed for this instance"),
  otpSignupDisabled: () => e(422, "otp_disabled", "Signups not allowed for otp"),
  anonymousDisabled: () => e(422, "anonymous_provider_disabled", "Anonymous sign-ins are disabled"),
  phoneProviderDisabled: () => e(400, "phone_provider_disabled", "Phone logins are disabled: no SMS provider is configured"),
  emailProviderDisabled: () => e(500, "email_send_failed", "Error sending email: no SMTP server is configured"),
  otpExpired: () => e(403, "otp_expired", "Token has expired or is invalid"),
  refreshNotFound: () => e(400, "refresh_token_not_found", "Invalid Refresh Token: Refresh Token Not Found"),
  refreshAlreadyUsed: () => e(400, "refresh_token_already_used", "Invalid Refresh Token: Already Used"),
  sessionExpired: () => e(400, "session_expired", "Invalid Refresh Token: Session Expired"),
  noAuthorization: () => e(401, "no_authorization", "This endpoint requires a Bearer token"),
  badJwt: (message: string) => e(403, "bad_jwt", message),
  sessionNotFound: () => e(403, "session_not_found", "Session from session_id claim in JWT does not exist"),
  userNotFoundFromJwt: () => e(403, "user_not_found", "User from sub claim in JWT does not exist"),
  userNotFound: () => e(404, "user_not_found", "User not found"),
  notAdmin: (message = "User not allowed") => e(403, "not_admin", message),
  samePassword: () => e(422, "same_password", "New password should be different from the old password."),
  reauthenticationNeeded: () => e(400, "reauthentication_needed", "Password update requires reauthentication"),
  verifyEmailFirst: () => e(422, "email_not_confirmed", "Please verify your email first."),
  verifyPhoneFirst: () => e(422, "phone_not_confirmed", "Please verify your phone first."),
  reauthenticationNotValid: () => e(422, "reauthentication_not_valid", "Nonce has expired or is invalid"),
  unsupportedGrant: () => e(400, "unsupported_grant_type", "Unsupported grant type"),
  flowStateNotFound: () => e(404, "flow_state_not_found", "invalid flow state, no valid flow state found"),
  flowStateExpired: () => e(400, "flow_state_expired", "invalid flow state, flow state has expired"),
  badCodeVerifier: () => e(400, "bad_code_verifier", "code challenge does not match previously saved code verifier"),
  rateLimited: (retryAfter: number) => e(429, "over_request_rate_limit", "Request rate limit reached", { "retry-after": String(retryAfter) }),
  emailRateLimited: (retryAfter: number) => e(429, "over_email_send_rate_limit", "Email rate limit exceeded", { "retry-after": String(retryAfter) }),
  smsRateLimited: (retryAfter: number) => e(429, "over_sms_send_rate_limit", "SMS rate limit exceeded", { "retry-after": String(retryAfter) }),
  /** Too many failed attempts for this identifier (lockout.ts): the same answer whether or not an account exists. */
  userLocked: (retryAfter: number) =>
    e(429, "user_locked", "Too many failed attempts: sign-in is locked for a while, retry later", { "retry-after": String(Math.max(1, retryAfter)) }),
  /** GoTrue answers 403 where it refuses to add a factor (enroll), 422 elsewhere (unenroll). */
  insufficientAal: (message: string, status: 403 | 422 = 422) => e(status, "insufficient_aal", message),
  recoveryNeedsFactor: () => e(422, "mfa_factor_not_found", "Recovery codes need a verified factor: verify one first"),
  mfaFactorNotFound: () => e(404, "mfa_factor_not_found", "Factor not found"),
  mfaFactorNameConflict: (name: string) => e(422, "mfa_factor_name_conflict", `A factor with the friendly name "${name}" for this user already exists`),
  tooManyFactors: () => e(422, "too_many_enrolled_mfa_factors", "Maximum number of enrolled factors reached, unenroll to continue"),
  mfaTypeDisabled: (type: string) => e(422, "mfa_factor_type_not_supported", `Enrolling ${type} factors is not supported`),
  mfaChallengeNotFound: () => e(404, "mfa_challenge_not_found", "Challenge not found"),
  mfaChallengeExpired: (id: string) =>
    e(422, "mfa_challenge_expired", `MFA challenge ${id} has expired, verify against another challenge or create a new challenge.`),
  mfaVerificationFailed: (message = "Invalid TOTP code entered") => e(422, "mfa_verification_failed", message),
  mfaVerificationRejected: (message: string) => e(422, "mfa_verification_rejected", message),
  userCreationFailed: () => e(500, "unexpected_failure", "Database error saving new user"),
};

export interface AuthErrorBody {
  code: string;
  message: string;
  msg: string;
  error_code: string;
  weak_password?: { reasons: string[] };
}

export function authErrorBody(err: PlinthError): AuthErrorBody {
  const body: AuthErrorBody = { code: err.code, message: err.message, msg: err.message, error_code: err.code };
  if (err instanceof WeakPasswordError) body.weak_password = { reasons: err.reasons };
  return body;
}

/** Renders any PlinthError in GoTrue's wire shape. Anything else is the caller's 500. */
export function renderAuthError(err: unknown): Response | undefined {
  if (!isPlinthError(err)) return undefined;
  return new Response(JSON.stringify(authErrorBody(err)), {
    status: err.status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "x-sb-error-code": err.code,
      "x-supabase-api-version": API_VERSION,
      ...err.headers,
    },
  });
}

/** A JSON answer with GoTrue's API version header. */
export function reply(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body === null ? null : JSON.stringify(body), {
    status,
    headers: {
      ...(body === null ? {} : { "content-type": "application/json; charset=utf-8" }),
      "x-supabase-api-version": API_VERSION,
      ...headers,
    },
  });
}
