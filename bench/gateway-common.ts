// Constants shared by the gateway benchmark's servers and its driver (kept free of src/ imports so
// the driver can report a missing prerequisite instead of failing to load).
/** An area that requires a key, so the apikey is verified on every request. */
export const BENCH_PATH = "/rest/v1/bench";
/** The JWT secret of the benchmark gateway (32+ characters, like a real one). */
export const BENCH_SECRET = "bench-secret-bench-secret-bench-secret-0123";
/** The small JSON both servers answer with. */
export const BODY = JSON.stringify({ ok: true, message: "hello from the benchmark" });
