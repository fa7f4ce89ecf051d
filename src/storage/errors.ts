// Storage errors: a closed set of codes (Supabase Storage's names, which clients match on), factories
// for each, and the one function that renders them on the wire.
//
// Wire rule (supabase/storage error-handler): the body carries the real status as a string in
// `statusCode`; the HTTP status is 400 for every renderable error except 500s and the few errors
// that set their own user status (416 for ranges, 429, TUS statuses).
import { PlinthError } from "../errors.ts";
import { isDatabaseUnavailable } from "../db/pool.ts";

export enum StorageErrorCode {
  NoSuchBucket = "NoSuchBucket",
  NoSuchKey = "NoSuchKey",
  NoSuchUpload = "NoSuchUpload",
  InvalidJWT = "InvalidJWT",
  InvalidRequest = "InvalidRequest",
  EntityTooLarge = "EntityTooLarge",
  InternalError = "InternalError",
  ResourceAlreadyExists = "ResourceAlreadyExists",
  ResourceNotEmpty = "ResourceNotEmpty",
  InvalidBucketName = "InvalidBucketName",
  InvalidKey = "InvalidKey",
  InvalidRange = "InvalidRange",
  InvalidMimeType = "InvalidMimeType",
  KeyAlreadyExists = "KeyAlreadyExists",
  BucketAlreadyExists = "BucketAlreadyExists",
  InvalidSignature = "InvalidSignature",
  ExpiredToken = "ExpiredToken",
  AccessDenied = "AccessDenied",
  MissingParameter = "MissingParameter",
  InvalidParameter = "InvalidParameter",
  InvalidUploadSignature = "InvalidUploadSignature",
  TusError = "TusError",
  DatabaseError = "DatabaseError",
}

export class StorageError extends PlinthError {
  constructor(
    status: number,
    code: StorageErrorCode,
    message: string,
    /** The body's `error` field (Supabase's backwards-compatible short name). */
    readonly errorName: string = code,
    /** HTTP status actually sent; Supabase sends 400 for renderable 4xx errors. */
    readonly userStatus: number = status >= 500 ? status : 400,
    headers: Record<string, string> = {},
  ) {
    super(status, code, message, null, null, headers);
    this.name = "StorageError";
  }
}

const E = StorageErrorCode;

export const errors = {
  noSuchBucket: () => new StorageError(404, E.NoSuchBucket, "Bucket not found", "Bucket not found"),
  noSuchKey: () => new StorageError(404, E.NoSuchKey, "Object not found", "not_found"),
  noSuchUpload: () => new StorageError(404, E.NoSuchUpload, "Upload not found", "not_found"),
  /** No key, or a key that is not a valid JWT: Supabase's message for a missing bearer is the JOSE one. */
  unauthenticated: () => new StorageError(403, E.AccessDenied, "Invalid Compact JWS", "Unauthorized"),
  accessDenied: (message = "Access denied") => new StorageError(403, E.AccessDenied, message, "Unauthorized"),
  rlsDenied: () => new StorageError(403, E.AccessDenied, "new row violates row-level security policy", "Unauthorized"),
  alreadyExists: () => new StorageError(409, E.ResourceAlreadyExists, "The resource already exists", "Duplicate"),
  keyAlreadyExists: () => new StorageError(409, E.KeyAlreadyExists, "The resource already exists", "Duplicate"),
  bucketAlreadyExists: () => new StorageError(409, E.BucketAlreadyExists, "The resource already exists", "Duplicate"),
  bucketNotEmpty: () => new StorageError(409, E.ResourceNotEmpty, "The bucket you tried to delete is not empty"),
  invalidBucketName: () => new StorageError(400, E.InvalidBucketName, "Bucket name invalid", "Invalid Input"),
  invalidKey: (key: string) => new StorageError(400, E.InvalidKey, `Invalid key: ${printable(key)}`),
  invalidRange: () => new StorageError(416, E.InvalidRange, "invalid range provided", "invalid_range", 416),
  invalidMimeType: (mime: string) => new StorageError(415, E.InvalidMimeType, `mime type ${printable(mime)} is not supported`, "invalid_mime_type"),
  entityTooLarge: () => new StorageError(413, E.EntityTooLarge, "The object exceeded the maximum allowed size", "Payload too large"),
  invalidRequest: (message: string) => new StorageError(400, E.InvalidRequest, message),
  missingParameter: (name: string) => new StorageError(400, E.MissingParameter, `Missing Required Parameter ${name}`),
  invalidParameter: (name: string, message?: string) => new StorageError(400, E.InvalidParameter, message ?? `Invalid Parameter ${name}`),
  invalidFileSizeLimit: () => new StorageError(400, E.InvalidRequest, "Invalid file size format, hint: use 20GB / 20MB / 30KB / 3B"),
  invalidSignature: (message = "Invalid signature") => new StorageError(400, E.InvalidSignature, message),
  expiredToken: () => new StorageError(400, E.ExpiredToken, "The provided token has expired."),
  invalidUploadSignature: () => new StorageError(400, E.InvalidUploadSignature, "Invalid upload Signature"),
  tus: (status: number, message: string) => new StorageError(status, E.TusError, message, E.TusError, status),
  internal: () => new StorageError(500, E.InternalError, "Internal server error"),
  // Image transformation (Supabase's ImageProcessingError: InvalidRequest below 500, its messages).
  imageSourceInvalid: () => new StorageError(400, E.InvalidRequest, "The source image is invalid or unsupported for rendering"),
  imageSourceTooLarge: () => new StorageError(400, E.InvalidRequest, "The source image file is too large to process"),
  imageResolutionTooLarge: () => new StorageError(400, E.InvalidRequest, "The source image resolution is too large to process"),
  imageBusy: () => new StorageError(429, E.InvalidRequest, "Too many requests", "too_many_requests", 429, { "retry-after": "1" }),
  imageTimeout: () => new StorageError(408, E.InvalidRequest, "Image request timed out"),
  imageUnavailable: () => new StorageError(503, E.InternalError, "Image transformation is not available on this server", "Service Unavailable", 503),
  /** The database is restarting or unreachable: the client may retry (Retry-After). */
  databaseUnavailable: () =>
    new StorageError(503, E.DatabaseError, "The database is unavailable, retry later", "Service Unavailable", 503, { "retry-after": "1" }),
};

/** Keys echoed in messages must not smuggle control characters into logs or clients. */
function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, "\uFFFD").slice(0, 1024);
}

/** Maps a database error (postgres.js PostgresError) to the storage error clients expect. */
export function fromDatabaseError(err: unknown): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || err instanceof StorageError) return err;
  if (isDatabaseUnavailable(err)) return errors.databaseUnavailable();
  switch (code) {
    case "42501":
      return String((err as Error).message).includes("row-level security") ? errors.rlsDenied() : errors.accessDenied((err as Error).message);
    case "23505":
      return errors.alreadyExists();
    case "23503":
      return errors.noSuchBucket();
    case "22P02":
      return errors.invalidParameter("value", "Invalid value format or type conversion failed");
    case "P0001":
      return errors.invalidRequest((err as Error).message);
    default:
      return err;
  }
}

/** The Storage wire shape. Unknown errors become a bare 500 (the cause is logged by the caller). */
export function renderStorageError(err: unknown): Response {
  const e = fromDatabaseError(err);
  let status = 500;
  let userStatus = 500;
  let body: Record<string, string>;
  let headers: Record<string, string> = {};
  if (e instanceof StorageError) {
    status = e.status;
    userStatus = e.userStatus;
    headers = e.headers;
    body = { statusCode: String(status), code: e.code, error: e.errorName, message: e.message };
  } else if (e instanceof PlinthError) {
    // Errors from outside storage's own enum (the gateway's refusals, shared code): Supabase
    // Storage's short names by status, as its clients see them for the same situations.
    status = e.status;
    userStatus = status >= 500 || status === 429 ? status : 400;
    headers = e.headers;
    body = { statusCode: String(status), code: e.code, error: storageErrorName(status), message: e.message };
  } else {
    body = { statusCode: "500", code: E.InternalError, error: "Internal", message: "Internal Server Error" };
  }
  return new Response(JSON.stringify(body), {
    status: userStatus,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

function storageErrorName(status: number): string {
  if (status === 401 || status === 403) return "Unauthorized";
  if (status === 404) return "not_found";
  if (status === 413) return "Payload too large";
  if (status === 429) return "too_many_requests";
  return "Error";
}

export const isStorageError = (e: unknown): e is StorageError => e instanceof StorageError;
