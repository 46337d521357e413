import type { DialResult } from '../protocol.ts';
import type { SandboxHost } from '../sandbox-supervisor.ts';

const answered: DialResult = { answered: true, status: 200, reason: 'OK', outcome: 'answered' };

/** Holds every Dial until released (then answered), so runs stay in flight as long as a test needs; other sys calls return null. */
export class HoldingHost implements SandboxHost {
  private held: (() => void)[] = [];
  dials = 0;
  async call(name: string): Promise<unknown> {
    if (name !== 'Dial') return null;
    this.dials++;
    await new Promise<void>((resolve) => this.held.push(resolve));
    return answered;
  }
  release(): void {
    for (const release of this.held.splice(0)) release();
  }
}
