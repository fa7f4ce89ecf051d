// One error type for all of Plinth. Services throw PlinthError with a stable string `code`; each API
// renders it in its own wire shape in one place. Causes are logged, never sent to clients.
export class PlinthError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: string | null = null,
    readonly hint: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "PlinthError";
  }
}

export const isPlinthError = (e: unknown): e is PlinthError => e instanceof PlinthError;

/** Plain JSON response helper used by the gateway and the plain routes. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}
