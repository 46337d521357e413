/**
 * A worker that lies (what a dialplan that escaped V8 could make the real one say): for every run
 * it first finishes and places calls in the name of other executions and other tenants, then
 * reports its own run honestly.
 */
import { unbatch } from '../ipc-outbox.ts';

process.on('message', (raw: unknown) => {
  for (const message of unbatch<{ type: string; execId: number; tenantId: string }>(raw)) {
    if (message.type !== 'run') continue;
    const { execId, tenantId } = message;
    const send = (m: object): void => void process.send?.(m);
    send({ type: 'done', execId, tenantId: `${tenantId}-other`, result: { status: 'completed' } });
    send({ type: 'sys-call', execId, tenantId: `${tenantId}-other`, seq: 1, name: 'Dial', args: ['900@premium'] });
    // The same lies inside one batch (the real worker writes a batch per turn), and a batch in a batch.
    send({
      type: 'batch',
      messages: [
        { type: 'sys-notify', execId, tenantId: 'someone-else', name: 'Log', args: ['forged'] },
        { type: 'sys-call', execId: execId + 1000, tenantId, seq: 1, name: 'Dial', args: ['900@premium'] },
        { type: 'batch', messages: [{ type: 'done', execId, tenantId, result: { status: 'completed' } }] },
      ],
    });
    send({ type: 'done', execId: execId - 1, tenantId, result: { status: 'completed' } });
    send({ type: 'done', execId, result: { status: 'completed' } });
    setTimeout(() => send({ type: 'done', execId, tenantId, result: { status: 'failed', code: 500, reason: 'honest' } }), 50);
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready', isolatedVm: 'none' });
