// waitFor() of the SMTP and SMS sinks: the first matching item, already received or arriving later.
export function waitForMatch<T>(items: readonly T[], waiters: Set<(item: T) => void>, pred: (item: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const existing = items.find(pred);
  if (existing !== undefined) return Promise.resolve(existing);
  return new Promise<T>((resolve, reject) => {
    const waiter = (item: T) => {
      if (!pred(item)) return;
      clearTimeout(timer);
      waiters.delete(waiter);
      resolve(item);
    };
    const timer = setTimeout(() => {
      waiters.delete(waiter);
      reject(new Error(`no matching ${what} within ${timeoutMs} ms (${items.length} received)`));
    }, timeoutMs);
    waiters.add(waiter);
  });
}
