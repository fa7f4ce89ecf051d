// Phone numbers to +E.164, the form SMS providers are handed; auth stores the same digits without the "+" (src/auth/input.ts).
//
// Uses the `max` metadata: the default (`min`) set only checks lengths, so isValid() would accept
// numbers in ranges no operator has ever assigned.
import { isSupportedCountry, parsePhoneNumberFromString, type CountryCode } from "libphonenumber-js/max";
import { PlinthError } from "../errors.ts";

/** Digits with the usual separators and an optional leading "+"; no letters, no extensions. */
const PHONE_CHARS = /^\+?[\d\s().\-/]+$/;
/** Longer than any formatted E.164 number; stops pathological input before the parser sees it. */
const MAX_INPUT = 32;

/**
 * "+233 24 123 4567", "233241234567" and (with defaultCountry "GH") "0241234567" all become
 * "+233241234567". Returns null for anything that is not a valid, assignable number.
 */
export function normalisePhone(input: string, defaultCountry?: string): string | null {
  const text = input.trim();
  if (text.length === 0 || text.length > MAX_INPUT || !PHONE_CHARS.test(text)) return null;
  const country = supportedCountry(defaultCountry);

  if (text.startsWith("+")) return toE164(text);
  // "00" is the international call prefix in most of the world (Ghana included).
  if (text.startsWith("00")) return toE164(`+${text.slice(2)}`);
  // National form first: with a default country, "0241234567" is a local number. Only when that
  // is not valid do we read the digits as country code + number ("233241234567"), the way people
  // copy numbers out of WhatsApp or CSV exports.
  if (country !== undefined) {
    const local = toE164(text, country);
    if (local !== null) return local;
  }
  return toE164(`+${text}`);
}

/** True for an ISO 3166 alpha-2 code libphonenumber knows ("GH", "ng"). */
export function isSupportedPhoneCountry(code: string): boolean {
  return supportedCountry(code) !== undefined;
}

function supportedCountry(code: string | undefined): CountryCode | undefined {
  if (code === undefined) return undefined;
  const upper = code.toUpperCase();
  return isSupportedCountry(upper) ? upper : undefined;
}

function toE164(text: string, defaultCountry?: CountryCode): string | null {
  // extract: false — the whole string must be the number, not "call me on +233…".
  const parsed = parsePhoneNumberFromString(text, { defaultCountry, extract: false });
  if (parsed === undefined || !parsed.isValid() || parsed.ext !== undefined) return null;
  return parsed.number;
}

const E164 = /^\+[1-9]\d{6,14}$/;

/**
 * SMS providers get E.164 only. A bad number here is a caller bug rather than a provider failure,
 * so a 400 with GoTrue's wording; callers are expected to have run normalisePhone already.
 */
export function assertE164(to: string): void {
  if (!E164.test(to)) throw new PlinthError(400, "validation_failed", "Invalid phone number format (E.164 required)");
}
