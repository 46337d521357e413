import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDatabaseTargets } from '../../db/test-databases.ts';
import { startApiHarness, type ApiHarness, type Credentials } from './test-support.ts';

type ContactJson = { id: number; name: string; company: string | null; numbers: string[]; note: string | null };

describe.each(testDatabaseTargets())('phonebook API on $dialect', (target) => {
  let h: ApiHarness;
  let admin: Credentials;
  let reception: Credentials;
  let member: Credentials;
  let otherAdmin: Credentials;
  let tenantId: number;
  let otherTenantId: number;

  beforeAll(async () => {
    h = await startApiHarness(target);
    tenantId = (await h.db.tenants.add({ domain: 'book.test' })).id;
    otherTenantId = (await h.db.tenants.add({ domain: 'other.test' })).id;
    admin = (await h.userWithSession('admin', tenantId, 'admin@book.test')).session;
    reception = (await h.userWithSession('receptionist', tenantId, 'desk@book.test')).session;
    member = (await h.userWithSession('member', tenantId)).session;
    otherAdmin = (await h.userWithSession('admin', otherTenantId)).session;
  });
  afterAll(async () => h?.close());

  const create = async (auth: Credentials, body: unknown) => h.call('POST', '/contacts', { auth, body });
  const csvImport = (auth: Credentials, text: string) =>
    fetch(`${h.base}/contacts/import`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv', cookie: `pb_session=${(auth as { cookie: string }).cookie}`, 'x-csrf-token': (auth as { csrf: string }).csrf },
      body: text,
    });

  it('creates, reads, patches and deletes contacts with 400s naming the field, 404 across tenants, audit rows and cache events', async () => {
    const res = await create(reception, { name: 'Ada Lovelace', company: 'Analytical Engines', numbers: ['+44 20 7946 0001', '(030) 1234-56'], note: 'prefers mornings' });
    expect(res.status).toBe(201);
    const { contact } = (await res.json()) as { contact: ContactJson };
    expect(contact).toEqual({ id: expect.any(Number), name: 'Ada Lovelace', company: 'Analytical Engines', numbers: ['+44 20 7946 0001', '(030) 1234-56'], note: 'prefers mornings' });
    expect(h.events).toContainEqual(expect.objectContaining({ type: 'config.changed', tenantId, kind: 'contacts' }));
    expect(await h.db.audit.list({ tenantId, action: 'contact.add' })).toEqual([expect.objectContaining({ actor: 'desk@book.test', target: `contact:${contact.id}` })]);

    const noName = await create(admin, { name: '  ', numbers: [] });
    expect(noName.status).toBe(400);
    expect(await noName.json()).toMatchObject({ field: 'name' });
    const badNumber = await create(admin, { name: 'X', numbers: ['12', 'call me'] });
    expect(badNumber.status).toBe(400);
    expect(await badNumber.json()).toMatchObject({ field: 'numbers.1' });
    const longNote = await create(admin, { name: 'X', note: 'n'.repeat(2001) });
    expect(await longNote.json()).toMatchObject({ field: 'note' });

    const got = await h.call('GET', `/contacts/${contact.id}`, { auth: member });
    expect(((await got.json()) as { contact: ContactJson }).contact.name).toBe('Ada Lovelace');
    const patched = await h.call('PATCH', `/contacts/${contact.id}`, { auth: admin, body: { company: null, numbers: ['+44 20 7946 0002'] } });
    expect(((await patched.json()) as { contact: ContactJson }).contact).toMatchObject({ company: null, numbers: ['+44 20 7946 0002'], note: 'prefers mornings' });

    // Another tenant's admin: the id is unknown there, for reading and for every change.
    for (const [method, body] of [['GET', undefined], ['PATCH', { name: 'Stolen' }], ['DELETE', undefined]] as const) {
      expect((await h.call(method, `/contacts/${contact.id}`, { auth: otherAdmin, ...(body && { body }) })).status).toBe(404);
    }
    expect(((await (await h.call('GET', '/contacts', { auth: otherAdmin })).json()) as { items: unknown[] }).items).toEqual([]);
    expect((await h.db.contacts.get(contact.id))!.name).toBe('Ada Lovelace');

    // A member reads but never writes.
    expect((await create(member, { name: 'Nope' })).status).toBe(403);
    expect((await h.call('DELETE', `/contacts/${contact.id}`, { auth: member })).status).toBe(403);

    expect((await h.call('DELETE', `/contacts/${contact.id}`, { auth: admin })).status).toBe(204);
    expect((await h.call('GET', `/contacts/${contact.id}`, { auth: admin })).status).toBe(404);
    expect(await h.db.audit.list({ tenantId, action: 'contact.remove' })).toHaveLength(1);
  });

  it('pages in name order and searches name, company and numbers (typed with other separators too)', async () => {
    const names = ['Zoe Zed', 'Bob Builder', 'Carla Cruz', 'Alan Apple', 'Dora Doe'];
    for (const [i, name] of names.entries()) {
      expect((await create(admin, { name, company: i === 2 ? 'Acme Widgets' : null, numbers: [`+49 30 55${i}0 ${i}${i}`] })).status).toBe(201);
    }
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res: Response = await h.call('GET', `/contacts?limit=2${cursor ? `&cursor=${cursor}` : ''}`, { auth: member });
      const body = (await res.json()) as { items: ContactJson[]; nextCursor: string | null };
      expect(body.items.length).toBeLessThanOrEqual(2);
      seen.push(...body.items.map((c) => c.name));
      cursor = body.nextCursor;
    } while (cursor);
    expect(seen).toEqual([...names].sort());

    const q = async (text: string) =>
      ((await (await h.call('GET', `/contacts?q=${encodeURIComponent(text)}`, { auth: reception })).json()) as { items: ContactJson[] }).items.map((c) => c.name);
    expect(await q('carla')).toEqual(['Carla Cruz']);
    expect(await q('WIDGETS')).toEqual(['Carla Cruz']);
    expect(await q('+4930554044')).toEqual(['Dora Doe']);
    expect(await q('30 5510')).toEqual(['Bob Builder']);
    expect(await q('50%')).toEqual([]);
    const bad = await h.call('GET', '/contacts?cursor=not-a-cursor', { auth: admin });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ field: 'cursor' });
  });

  it('exports CSV that imports back unchanged (quotes, commas, newlines, formula-like text) and reports bad lines by number', async () => {
    const tricky = { name: 'O"Brien, Pat', company: '=HYPERLINK("x")', numbers: ['+1 555 0100', '0171 234'], note: 'line one\nline "two", with comma' };
    expect((await create(admin, tricky)).status).toBe(201);
    const exported = await h.call('GET', '/contacts/export', { auth: member });
    expect(exported.headers.get('content-type')).toMatch(/^text\/csv/);
    const csv = await exported.text();
    expect(csv.split('\r\n')[0]).toBe('name,company,numbers,note');
    // The formula is defused for spreadsheets…
    expect(csv).toContain(`"'=HYPERLINK(""x"")"`);
    expect(csv).toContain('+1 555 0100;0171 234');

    // …and comes back as it was: into another tenant as new contacts, into this one as updates.
    const intoOther = await csvImport(otherAdmin, csv);
    expect(intoOther.status).toBe(200);
    const otherResult = (await intoOther.json()) as { created: number; updated: number; errors: unknown[] };
    expect(otherResult).toEqual({ created: 6, updated: 0, errors: [] });
    const back = ((await (await h.call('GET', '/contacts?q=brien', { auth: otherAdmin })).json()) as { items: ContactJson[] }).items;
    expect(back).toEqual([{ ...tricky, id: expect.any(Number) }]);
    expect((await (await csvImport(admin, csv)).json())).toEqual({ created: 0, updated: 6, errors: [] });

    const withErrors = [
      'name,company,numbers,note',
      'Eve Good,,+49 1,',
      'Too,Many,Fields,Here,Extra',
      'Multi Line,,030 1,"first',
      'second"',
      ',NoName,030 2,',
      'Bad Number,,not-a-number,',
      'Frank Fine,Co,030 3;030 4,hello',
    ].join('\n');
    const res = await csvImport(reception, withErrors);
    const result = (await res.json()) as { created: number; updated: number; errors: Array<{ line: number; message: string }> };
    expect(result.created).toBe(3);
    expect(result.errors.map((e) => e.line)).toEqual([3, 6, 7]);
    expect(result.errors[0]!.message).toMatch(/expected 4 fields/);
    expect(result.errors[1]!.message).toMatch(/^name:/);
    expect(result.errors[2]!.message).toMatch(/^numbers\.0:/);
    const multi = ((await (await h.call('GET', '/contacts?q=030%201', { auth: reception })).json()) as { items: ContactJson[] }).items;
    expect(multi.map((c) => [c.name, c.note])).toEqual([['Multi Line', 'first\nsecond']]);
    expect(await h.db.audit.list({ tenantId, action: 'contact.import' })).toHaveLength(2);

    const unclosed = await csvImport(admin, 'name,company,numbers,note\nOk,,1,\n"never closed,,2,\n');
    const unclosedResult = (await unclosed.json()) as { created: number; errors: Array<{ line: number; message: string }> };
    expect(unclosedResult.errors).toEqual([{ line: expect.any(Number), message: expect.stringMatching(/quote/i) }]);
    expect(unclosedResult.errors[0]!.line).toBeGreaterThanOrEqual(3);

    const wrongHeader = await csvImport(admin, 'first,last\nA,B\n');
    expect(wrongHeader.status).toBe(400);
    expect(await wrongHeader.json()).toMatchObject({ field: 'body' });
    expect((await csvImport(member, csv)).status).toBe(403);
    const json = await h.call('POST', '/contacts/import', { auth: admin, body: { name: 'x' } });
    expect(json.status).toBe(415);
  });
});
