import { describe, expect, it, vi } from 'vitest';

/** Bytes the header search was asked to look at, over all calls. */
const examined = vi.hoisted(() => ({ bytes: 0 }));

vi.mock('./parser.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('./parser.ts')>();
  return {
    ...real,
    findHeaderEnd: (data: Buffer, from: number) => {
      examined.bytes += data.length - from;
      return real.findHeaderEnd(data, from);
    },
  };
});

const { StreamFramer } = await import('./stream-framer.ts');

describe('StreamFramer header search', () => {
  it('resumes where it stopped instead of rescanning from byte 0 on every chunk', () => {
    const head =
      `MESSAGE sip:b@h SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nTo: <sip:b@h>\r\nFrom: <sip:a@h>;tag=1\r\n` +
      `Call-ID: c1\r\nCSeq: 1 MESSAGE\r\nX-Pad: ${'p'.repeat(30_000)}\r\nContent-Length: 0\r\n\r\n`;
    const m = Buffer.from(head);
    const f = new StreamFramer();
    const out: Buffer[] = [];
    // A slowloris peer: one byte per segment.
    for (let i = 0; i < m.length; i++) out.push(...f.push(m.subarray(i, i + 1)));
    expect(out).toHaveLength(1);
    // Rescanning would examine about length²/2 (~450 M) bytes; resuming, a few per byte.
    expect(examined.bytes).toBeLessThan(5 * m.length);
  });
});
