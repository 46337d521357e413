import { describe, expect, it } from 'vitest';
import { parseCallerId } from './caller-id.ts';

describe('parseCallerId', () => {
  it.each([
    ['Alice <1001>', { displayName: 'Alice', user: '1001' }],
    ['"Alice Smith" <1001>', { displayName: 'Alice Smith', user: '1001' }],
    ['<1001>', { displayName: undefined, user: '1001' }],
    ['Desk <sip:+4930123@pbx.example>', { displayName: 'Desk', user: '+4930123' }],
    ['1001', { user: '1001' }],
    ['+15551234567', { user: '+15551234567' }],
    ['Alice', { displayName: 'Alice' }],
    ['Front Desk', { displayName: 'Front Desk' }],
    ['', {}],
    [null, {}],
  ])('%j', (setting, expected) => {
    expect(parseCallerId(setting)).toEqual(expected);
  });

  it('drops parts that cannot go into a From', () => {
    expect(parseCallerId('Alice <10 01>')).toEqual({ displayName: 'Alice', user: undefined });
    expect(parseCallerId('A"b <1001>')).toEqual({ displayName: undefined, user: '1001' });
  });
});
