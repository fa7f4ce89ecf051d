// Work a request starts but does not wait for. Used where the answer must not depend on whether an
// account exists (/recover, /resend): the request validates, takes its rate limits and answers the
// same `{}` at once, and the lookup, the code and the mail or SMS happen here. Timing the request
// then shows nothing about the address, because nothing the request does depends on it (issue 11:
// /recover took 18–33 ms for an account, mailed inside the request, and ~5 ms without one).
//
// Traps:
// - A task must not begin in the request's own turn of the event loop: synchronous work at its
//   start (template rendering, HMACs) would still delay the answer, by an amount that depends on
//   the account. Tasks start from a timer, after the handler returned.
// - Nobody is waiting for a task: its failure is logged here, and cleaning up after a failed send is
//   the task's own job (the flows pass an undo to sendEmail/sendSms as before).
// - drain() waits for the running tasks, so shutdown does not close the pool under them.
import type { Logger } from "../log.ts";

export class BackgroundTasks {
  private readonly running = new Set<Promise<void>>();

  constructor(private readonly log: Logger) {}

  /** Starts `task` after the current turn of the event loop; `label` names it in the log. */
  run(label: string, task: () => Promise<unknown>): void {
    const done = new Promise<void>((resolve) => {
      setTimeout(() => {
        Promise.resolve()
          .then(task)
          .catch((err: unknown) => this.log.warn(`auth: ${label} failed after the response`, { error: err }))
          .finally(resolve);
      }, 0);
    });
    this.running.add(done);
    void done.then(() => this.running.delete(done));
  }

  /** How many tasks have not finished. */
  get pending(): number {
    return this.running.size;
  }

  /** Resolves when every task started so far, and any they started, has finished. */
  async drain(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }
}
