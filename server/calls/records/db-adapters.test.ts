import { describe, expect, it } from 'vitest';
import type { JournaledWrite } from '../../../db/index.ts';
import type { CdrRecord } from './call-events.ts';
import type { DbAccountDirectory } from '../../registrar/index.ts';
import { callAccountsFrom, cdrSinkFor } from './db-adapters.ts';

function record(callId: string): CdrRecord {
  return {
    tenantId: '7',
    callId,
    direction: 'internal',
    caller: { uri: 'sip:1001@t.test' },
    callee: { uri: 'sip:1002@t.test' },
    dialStrings: [],
    legs: [],
    createdAt: 1_700_000_000_000,
    endedAt: 1_700_000_010_000,
    durationSeconds: 0,
    ringSeconds: 10,
    outcome: 'failed',
    hungUpBy: 'caller',
    status: 486,
    reason: 'Busy Here',
    history: [],
  } as CdrRecord;
}

describe('cdrSinkFor (CDRs through the write journal)', () => {
  it('maps call records to CDR rows, each with its own record key, and flushes the journal on close', async () => {
    const appended: JournaledWrite[] = [];
    let flushed = 0;
    const sink = cdrSinkFor({ append: (w) => (appended.push(w), true), flush: async () => void flushed++ });
    sink.write(record('m'));
    sink.write(record('n'));
    await sink.close();
    expect(flushed).toBe(1);
    const cdrs = appended.map((w) => (w.kind === 'cdr' ? w.cdr : undefined));
    expect(cdrs[0]).toMatchObject({ callId: 'm', tenantId: 7, caller: 'sip:1001@t.test', status: '486', hangupCause: 'Busy Here', durationSec: 0 });
    expect(cdrs[0]!.recordKey).toMatch(/^[0-9a-f-]{36}$/);
    expect(cdrs[1]!.recordKey).not.toBe(cdrs[0]!.recordKey);
  });

  it('a CDR the full journal refuses is reported, not silently lost', () => {
    const lost: string[] = [];
    const sink = cdrSinkFor({ append: () => false, flush: async () => {} }, (cdr) => lost.push(cdr.callId));
    sink.write(record('x'));
    expect(lost).toEqual(['x']);
  });
});

describe('callAccountsFrom', () => {
  it('carries the caller ID and call limit of the db account', async () => {
    const stored = {
      id: 3, tenantId: 7, domain: 't.test', username: '1001', ha1Md5: 'm', ha1Sha256: 's', disabled: false,
      natKeepalive: false, keepaliveMethod: 'crlf', allowedCidrs: [], incomingOnly: false, outDialplan: 'out',
      inDialplan: null, callerId: 'Alice <1001>', maxCalls: 2, createdAt: 0, updatedAt: 0,
    };
    const directory = {
      tenantForDomain: async () => ({ id: 7, domain: 't.test' }),
      findAccount: async () => stored,
    } as unknown as DbAccountDirectory;
    const account = await callAccountsFrom(directory).find('1001', 't.test');
    expect(account).toMatchObject({ id: 3, outDialplan: 'out', callerId: 'Alice <1001>', maxCalls: 2 });
  });
});
