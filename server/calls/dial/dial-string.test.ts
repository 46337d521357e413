import { describe, expect, it } from 'vitest';
import { DialStringError, parseDialString, type DialVars } from './dial-string.ts';

const vars: DialVars = { dst: '0211234567', fromName: 'Alice Smith', fromUriUser: '1001' };

function errorOf(text: string, v: DialVars = vars): DialStringError {
  try {
    parseDialString(text, v);
  } catch (e) {
    if (e instanceof DialStringError) return e;
    throw e;
  }
  throw new Error(`no error for ${text}`);
}

describe('parseDialString structure', () => {
  it('splits sequential groups and parallel legs', () => {
    const plan = parseDialString('1001@local&1002@local[tr=c]|vm@prov', vars);
    expect(plan.groups.map((g) => g.legs.map((l) => l.target))).toEqual([
      [{ kind: 'local', user: '1001' }, { kind: 'local', user: '1002' }],
      [{ kind: 'named', user: 'vm', host: 'prov' }],
    ]);
    expect(plan.groups[0].legs[1].options.transferPolicy).toBe('switch');
    expect(plan.groups[0].legs[0].options.transferPolicy).toBe('refuse');
    expect(plan.groups[0].legs[1].position).toBe(12);
  });

  it('tolerates whitespace around separators', () => {
    const plan = parseDialString('  1001@local [dt=5] &  1002@local |  vm@Prov  ', vars);
    expect(plan.groups).toHaveLength(2);
    expect(plan.groups[0].legs[0].options.delaySeconds).toBe(5);
    expect(plan.groups[1].legs[0].target).toEqual({ kind: 'named', user: 'vm', host: 'prov' });
  });

  it('a provider alone dials the request user', () => {
    const plan = parseDialString('mytrunk', vars);
    expect(plan.groups[0].legs[0].target).toEqual({ kind: 'provider', provider: 'mytrunk', user: '0211234567' });
  });

  it('parses bare sip/sips URIs with params and an IPv6 host', () => {
    const plan = parseDialString('sip:1001@Example.COM;transport=tcp&sips:[2001:db8::1]:5061[dt=3]', vars);
    expect(plan.groups[0].legs[0].target).toEqual({ kind: 'uri', uri: 'sip:1001@Example.COM;transport=tcp' });
    expect(plan.groups[0].legs[1].target).toEqual({ kind: 'uri', uri: 'sips:[2001:db8::1]:5061' });
    expect(plan.groups[0].legs[1].options.delaySeconds).toBe(3);
  });

  it('takes & | [ , literally inside <...>', () => {
    const plan = parseDialString('<sip:conf@example.com?subject=a&priority=urgent|x>[tr=p]&1001@local', vars);
    expect(plan.groups).toHaveLength(1);
    expect(plan.groups[0].legs[0].target).toEqual({ kind: 'uri', uri: 'sip:conf@example.com?subject=a&priority=urgent|x' });
    expect(plan.groups[0].legs[0].options.transferPolicy).toBe('pass-through');
    expect(plan.groups[0].legs[1].target).toEqual({ kind: 'local', user: '1001' });
  });

  it('drops duplicate destinations in the whole plan, keeping the first', () => {
    const plan = parseDialString('1001@local[dt=1]&1001@local[dt=2]|1001@local|sip:a@EXAMPLE.com&sip:a@example.com|x@Prov&x@prov', vars);
    expect(plan.groups).toHaveLength(3);
    expect(plan.groups[0].legs).toHaveLength(1);
    expect(plan.groups[0].legs[0].options.delaySeconds).toBe(1);
    expect(plan.groups[1].legs).toHaveLength(1);
    expect(plan.groups[2].legs).toHaveLength(1);
  });

  it('treats a provider alone and dst@provider as the same destination', () => {
    const plan = parseDialString('mytrunk&0211234567@mytrunk', vars);
    expect(plan.groups[0].legs).toHaveLength(1);
  });
});

describe('variables', () => {
  it('substitutes dst, exten, dst:N, fromname, fromuriuser', () => {
    const plan = parseDialString('${dst:1}@trunk[fu=${fromuriuser},fd=${fromname}]&${exten}@local', { ...vars, exten: '200' });
    const [a, b] = plan.groups[0].legs;
    expect(a.target).toEqual({ kind: 'named', user: '211234567', host: 'trunk' });
    expect(a.options.fromUser).toBe('1001');
    expect(a.options.fromDisplayName).toBe('Alice Smith');
    expect(b.target).toEqual({ kind: 'local', user: '200' });
  });

  it('exten defaults to dst', () => {
    expect(parseDialString('${exten}@local', vars).groups[0].legs[0].target).toEqual({ kind: 'local', user: '0211234567' });
  });

  it('unknown variable is an error naming its position', () => {
    const e = errorOf('1001@local&${foo}@local');
    expect(e.message).toMatch(/Unknown variable '\$\{foo\}' at position 12/);
    expect(e.position).toBe(12);
  });

  it('a caller-controlled value cannot add legs or options', () => {
    const evil: DialVars = { dst: '1', fromName: 'x|900@premium[tr=c]' };
    const plan = parseDialString('1001@local[fd=${fromname}]', evil);
    expect(plan.groups).toHaveLength(1);
    expect(plan.groups[0].legs).toHaveLength(1);
    expect(plan.groups[0].legs[0].options.fromDisplayName).toBe('x|900@premium[tr=c]');
    expect(plan.groups[0].legs[0].options.transferPolicy).toBe('refuse');
  });

  it('a value cannot change the destination shape', () => {
    expect(errorOf('${dst}', { dst: '900@premium.example' }).message).toMatch(/Invalid provider name/);
    expect(errorOf('${dst}@local', { dst: '900@evil' }).message).toMatch(/Invalid character in user/);
    expect(errorOf('sip:${dst}@host.example', { dst: 'x@evil.example;' }).message).toMatch(/not allowed here at position 5/);
    expect(errorOf('${dst}@local', { dst: 'sip:x' }).message).toMatch(/Invalid character in user/);
  });

  it('empty user after expansion is an error', () => {
    expect(errorOf('${fromuriuser}@local', { dst: '1' }).message).toMatch(/Empty user at position 1/);
  });

  it('bad and unclosed variables', () => {
    expect(errorOf('${dst:x}@local').message).toMatch(/Bad variable .* at position 1/);
    expect(errorOf('1@local&${dst').message).toMatch(/Unclosed '\$\{' at position 9/);
  });
});

describe('options', () => {
  it('dt, cd, tr, fd, fu, fh, rm, ma, ch', () => {
    const o = parseDialString(
      'x@trunk[dt=120,cd=3600,tr=p,fd="Smith, John [Sales]",fu=0211234567,fh=Example.com,rm=m,ma=false,ch=X-Account:42,ch="X-Note: a, b"]',
      vars,
    ).groups[0].legs[0].options;
    expect(o).toEqual({
      delaySeconds: 120,
      callDurationLimitSeconds: 3600,
      transferPolicy: 'pass-through',
      fromDisplayName: 'Smith, John [Sales]',
      fromUser: '0211234567',
      fromHost: 'example.com',
      redirectMode: 'manual',
      mangleSdp: false,
      customHeaders: [{ name: 'X-Account', value: '42' }, { name: 'X-Note', value: 'a, b' }],
    });
  });

  it('defaults', () => {
    expect(parseDialString('1@local', vars).groups[0].legs[0].options).toEqual({
      delaySeconds: 0, transferPolicy: 'refuse', redirectMode: 'own-accounts', mangleSdp: true, customHeaders: [],
    });
  });

  it('tr=n, tr=c, rm=n, ma=true, dt=0, quoted escapes', () => {
    const o = parseDialString('1@local[tr=n,rm=n,ma=true,dt=0,fd="a \\"b\\" \\\\c"]', vars).groups[0].legs[0].options;
    expect(o.transferPolicy).toBe('refuse');
    expect(o.redirectMode).toBe('new-dialplan');
    expect(o.mangleSdp).toBe(true);
    expect(o.delaySeconds).toBe(0);
    expect(o.fromDisplayName).toBe('a "b" \\c');
    expect(parseDialString('1@local[tr=C]', vars).groups[0].legs[0].options.transferPolicy).toBe('switch');
    expect(parseDialString('1@local[rm=F]', vars).groups[0].legs[0].options.redirectMode).toBe('follow');
  });

  it.each([
    ['1@local[dt=121]', /'dt' must be between 0 and 120, got 121 at position 12/],
    ['1@local[dt=-1]', /'dt' needs a whole number/],
    ['1@local[dt=1.5]', /'dt' needs a whole number/],
    ['1@local[dt=]', /'dt' needs a whole number.* at position 12/],
    ['1@local[cd=0]', /'cd' must be between 1 and 86400/],
    ['1@local[cd=abc]', /'cd' needs a whole number/],
    ['1@local[tr=x]', /'tr' must be n, p or c/],
    ['1@local[rm=x]', /'rm' must be n, m or f/],
    ['1@local[ma=no]', /'ma' must be true or false/],
    ['1@local[fu=a@b]', /Invalid character in From user/],
    ['1@local[fu=]', /Empty From user/],
    ['1@local[fh=bad host]', /Invalid From host/],
    ['1@local[ch=NoColon]', /'ch' must be Name:Value/],
    ['1@local[ch=Bad Name:1]', /Invalid header name/],
    ['1@local[ch=Via:1]', /Header 'Via' cannot be set/],
    ['1@local[ch=call-id:1]', /cannot be set/],
    ['1@local[xx=1]', /Unknown option 'xx' at position 9/],
    ['1@local[dt=1,dt=2]', /Duplicate option 'dt' at position 14/],
  ])('%s is rejected', (text, re) => {
    expect(errorOf(text).message).toMatch(re);
  });

  it('header values and display names cannot carry CR/LF (from variables either)', () => {
    expect(errorOf('1@local[fd=${fromname}]', { dst: '1', fromName: 'a\r\nVia: x' }).message).toMatch(/Control character in From display name/);
    expect(errorOf('1@local[ch="X-A: a\r\nB: c"]').message).toMatch(/Control character/);
  });
});

describe('syntax errors', () => {
  it.each([
    ['', /Empty dial string at position 1/],
    ['   ', /Empty dial string/],
    ['1@local&', /Empty leg at position 9/],
    ['&1@local', /Empty leg at position 1/],
    ['1@local||2@local', /Empty leg at position 9/],
    ['1@local|', /Empty leg at position 9/],
    ['1@local&&2@local', /Empty leg at position 9/],
    ['[dt=1]', /Empty leg at position 1/],
    ['1@local[dt=1', /Unbalanced '\[' at position 8/],
    ['1@local[dt=1,', /Unbalanced '\[' at position 8/],
    ['1@local[dt', /Unbalanced '\[' at position 8/],
    ['1@local[', /Unbalanced '\[' at position 8/],
    ['1@local[]', /Expected an option name before '\]' at position 9/],
    ['1@local[dt=1,]', /Expected an option name before '\]' at position 14/],
    ['1@local[dt 1]', /Expected '=' after option 'dt' at position 12/],
    ['1@local[fd="abc]', /Unclosed quoted value at position 12/],
    ['1@local[fd="a"b]', /Unexpected character 'b' in options at position 15/],
    ['1@local]', /Unexpected character '\]' at position 8/],
    ['1@local 2@local', /Unexpected character '2' at position 9/],
    ['<sip:a@b', /Unclosed '<' at position 1/],
    ['<tel:123>', /Only sip: and sips: URIs/],
    ['sip:a@b,c', /Unexpected character ','/],
    ['sip:@host', /URI with an empty user/],
    ['sip:', /URI without a host/],
    ['1@', /Invalid domain or provider '' at position 3/],
    ['@local', /Empty user at position 1/],
    ['1@local[dt=1][dt=2]', /Unexpected character '\[' at position 14/],
    ['a"b@local', /Unexpected character '"' at position 2/],
  ])('%j -> %s', (text, re) => {
    expect(errorOf(text).message).toMatch(re);
  });

  it('DialStringError carries the position', () => {
    const e = errorOf('1@local&');
    expect(e).toBeInstanceOf(DialStringError);
    expect(e.position).toBe(9);
  });

  it('rejects overly long strings', () => {
    expect(errorOf('1@local&'.repeat(600) + '1@local').message).toMatch(/longer than 4096/);
  });
});
