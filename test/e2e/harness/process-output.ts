import type { Readable } from 'node:stream';

/**
 * Collects a child's stdout/stderr as text and lets a caller wait for a line matching a pattern.
 * Waiting searches everything seen so far first, so a line that arrived before the wait is found.
 */
export class ProcessOutput {
  private text = '';
  private waiters = new Set<() => void>();
  private closed = false;

  attach(stream: Readable | null): void {
    if (!stream) return;
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      // Bounded: keep the last 4 MiB so a chatty long-lived process cannot grow memory without limit.
      this.text += chunk;
      if (this.text.length > 4 * 1024 * 1024) this.text = this.text.slice(-2 * 1024 * 1024);
      for (const wake of this.waiters) wake();
    });
  }

  markClosed(): void {
    this.closed = true;
    for (const wake of this.waiters) wake();
  }

  get all(): string {
    return this.text;
  }

  /** Resolves with the first match at or after `fromIndex`; rejects on timeout or when the process ends without a match. */
  waitFor(pattern: RegExp, timeoutMs: number, fromIndex = 0): Promise<RegExpMatchArray> {
    return new Promise((resolveMatch, reject) => {
      const check = (): boolean => {
        const match = this.text.slice(fromIndex).match(pattern);
        if (match) {
          finish();
          resolveMatch(match);
          return true;
        }
        if (this.closed) {
          finish();
          reject(new Error(`process ended before output matched ${pattern}; last output:\n${this.text.slice(-2000)}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${pattern}; last output:\n${this.text.slice(-2000)}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.waiters.delete(wake);
      };
      const wake = (): void => {
        check();
      };
      if (!check()) this.waiters.add(wake);
    });
  }
}
