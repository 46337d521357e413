import v8 from 'node:v8';

/**
 * Keeps V8's young generation of the server process at its initial size (1 MiB per
 * semi-space) instead of letting it grow to 16 MiB per semi-space.
 *
 * Why: V8 doubles the new space whenever many objects survive a scavenge — loading 10,000
 * accounts at start does — and keeps it that size for good: 32 MiB of an idle switch, about
 * 16 MiB of it resident. `--max-semi-space-size` would cap it, but only from the command line,
 * and the server is started as `node dist/patchbay.js serve` by service managers and tests
 * alike. The growth factor is read by V8 at every scavenge, so setting it to 1 here stops the
 * growth. (A cap above the initial size cannot be done this way: the growth runs inside GCs,
 * faster than any JS callback could see it.) The price is more frequent scavenges under load,
 * each as cheap as the objects alive in 1 MiB.
 *
 * A `--max-semi-space-size` or `--semi-space-growth-factor` given by the operator (command line
 * or NODE_OPTIONS) wins: nothing is changed then.
 */
export function keepYoungGenerationSmall(): boolean {
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  if (given.some((flag) => /^--(max[-_]semi[-_]space[-_]size|semi[-_]space[-_]growth[-_]factor)\b/.test(flag))) return false;
  v8.setFlagsFromString('--semi-space-growth-factor=1');
  return true;
}
