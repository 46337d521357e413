import { describe, expectTypeOf, it } from 'vitest';
import type { CallDirection as CdrDirection, DigestAlgorithm as StoredDigestAlgorithm, HangupSide as CdrHangupSide } from '../db/index.ts';
import type { CallDirection as EventDirection, HangupSide as EventHangupSide } from './events/index.ts';
import type { DigestAlgorithm as SipDigestAlgorithm } from './sip/index.ts';

/**
 * The layer table keeps db, server/events and server/sip from importing one another, so each
 * spells these small unions itself. `npm test` type-checks this file: the copies cannot drift.
 */
describe('vocabulary shared across layers that may not import each other', () => {
  it('call direction and hangup side: CDR rows and events', () => {
    expectTypeOf<CdrDirection>().toEqualTypeOf<EventDirection>();
    expectTypeOf<CdrHangupSide>().toEqualTypeOf<EventHangupSide>();
  });

  it('digest algorithm: stored HA1s and the SIP stack', () => {
    expectTypeOf<StoredDigestAlgorithm>().toEqualTypeOf<SipDigestAlgorithm>();
  });
});
