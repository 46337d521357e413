/**
 * A worker that lies (what a dialplan that escaped V8 could make the real one say): for every run
 * it first finishes and places calls in the name of other executions and other tenants, then
 * reports its own run honestly.
 */
process.on('message', (raw: unknown) => {
  const message = raw as { type: string; execId: number; tenantId: string };
  if (message.type !== 'run') return;
  const { execId, tenantId } = message;
  const send = (m: object): void => void process.send?.(m);
  send({ type: 'done', execId, tenantId: `${tenantId}-other`, result: { status: 'completed' } });
  send({ type: 'sys-call', execId, tenantId: `${tenantId}-other`, seq: 1, name: 'Dial', args: ['900@premium'] });
  send({ type: 'sys-notify', execId, tenantId: 'someone-else', name: 'Log', args: ['forged'] });
  send({ type: 'sys-call', execId: execId + 1000, tenantId, seq: 1, name: 'Dial', args: ['900@premium'] });
  send({ type: 'done', execId: execId - 1, tenantId, result: { status: 'completed' } });
  send({ type: 'done', execId, result: { status: 'completed' } });
  setTimeout(() => send({ type: 'done', execId, tenantId, result: { status: 'failed', code: 500, reason: 'honest' } }), 50);
});
process.on('disconnect', () => process.exit(0));
process.send?.({ type: 'ready', isolatedVm: 'none' });
