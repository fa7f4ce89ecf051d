// Token buckets: refill, refusal with a wait, and a clock that steps backwards.
import { expect, test } from "bun:test";
import { TokenBuckets } from "../src/lib/token-buckets.ts";

test("a bucket empties, tells how long to wait, and refills with time", () => {
  let t = 0;
  const b = new TokenBuckets({ capacity: 2, perSecond: 1 }, () => t);
  expect([b.take("ip"), b.take("ip"), b.take("ip")]).toEqual([0, 0, 1]);
  t += 1000;
  expect(b.take("ip")).toBe(0);
  expect(b.take("other")).toBe(0); // keys are separate
});

test("the default clock is monotonic: moving the wall clock back does not drain buckets", () => {
  const { setSystemTime } = require("bun:test") as typeof import("bun:test");
  const b = new TokenBuckets({ capacity: 3, perSecond: 1 });
  setSystemTime(new Date(Date.now() + 3_600_000));
  try {
    expect(b.take("ip")).toBe(0);
  } finally {
    setSystemTime();
  }
  expect([b.take("ip"), b.take("ip")]).toEqual([0, 0]);
});
