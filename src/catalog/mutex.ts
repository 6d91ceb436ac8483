/** A FIFO async mutex: `run` executes callbacks one at a time in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  /**
   * Run `fn` when every earlier callback has finished. If `signal` aborts while `fn` is still
   * waiting for its turn, the result rejects at once with `onAbort()` and `fn` never runs; once
   * `fn` has started, it runs to its end (it sees the signal where it can act on it).
   */
  run<T>(fn: () => Promise<T> | T, signal?: AbortSignal, onAbort?: () => Error): Promise<T> {
    let started = false;
    const turn = (): Promise<T> | T => {
      if (signal?.aborted) throw (onAbort?.() ?? new Error('aborted'));
      started = true;
      return fn();
    };
    const result = this.tail.then(turn, turn);
    this.tail = result.catch(() => undefined);
    if (!signal) return result;
    return new Promise<T>((resolve, reject) => {
      const abort = (): void => {
        if (!started) reject(onAbort?.() ?? new Error('aborted'));
      };
      if (signal.aborted) abort();
      signal.addEventListener('abort', abort, { once: true });
      result.then(resolve, reject).finally(() => signal.removeEventListener('abort', abort));
    });
  }
}
