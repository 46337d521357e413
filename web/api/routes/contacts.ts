import { Readable } from 'node:stream';
import { z } from 'zod';
import { checkContactInput, ValidationError, type Contact, type ContactInput } from '../../../db/index.ts';
import type { ApiRouter, RouteInput } from '../api-router.ts';
import { parsePhonebookCsv, phonebookCsvHeader, phonebookCsvLine, PhonebookCsvHeaderError } from '../csv/phonebook-csv.ts';
import type { RouteDeps } from '../deps.ts';
import { ApiError } from '../middleware/api-error.ts';
import { idFrom, listOf } from '../schemas/common.ts';
import { contactCreateBody, contactImportResponse, contactPatchBody, contactSchema, contactsQuery } from '../schemas/contacts.ts';

const one = z.object({ contact: contactSchema });

/** A CSV import is read whole (it is applied in one transaction); 2 MiB is ~20 000 contacts. */
const MAX_IMPORT_BYTES = 2 * 1024 * 1024;

export function showContact(c: Contact) {
  return { id: c.id, name: c.name, company: c.company, numbers: c.numbers, note: c.note };
}

/** The list is in name order, so its cursor is the last (name, id) given out. */
function encodeCursor(c: Contact): string {
  return Buffer.from(JSON.stringify([c.name, c.id])).toString('base64url');
}

function decodeCursor(cursor: string | undefined): { name: string; id: number } | undefined {
  if (cursor === undefined) return undefined;
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && Number.isSafeInteger(v[1]) && (v[1] as number) > 0) return { name: v[0], id: v[1] as number };
  } catch {
    // fall through to the 400
  }
  throw new ApiError(400, 'cursor: not a cursor this list gave out', 'cursor');
}

async function readCsvBody(input: RouteInput<unknown, unknown>): Promise<string> {
  const { ctx } = input;
  const type = ctx.request.type;
  if (type !== 'text/csv' && type !== 'text/plain') throw new ApiError(415, 'expected Content-Type text/csv');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > MAX_IMPORT_BYTES) throw new ApiError(413, `request body larger than ${MAX_IMPORT_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** The key an import matches an existing contact by: same name and company, letter case aside. */
const importKey = (c: { name: string; company?: string | null }) => `${c.name.trim().toLowerCase()}\u0000${(c.company ?? '').trim().toLowerCase()}`;

/**
 * The tenant phonebook (switchboard caller names): admins and receptionists keep it, members
 * read it. Another tenant's contact id is 404. Every write tells the switch (config.changed,
 * kind `contacts`) so the caller-name cache drops that tenant's copy.
 */
export function mountContactRoutes(api: ApiRouter, d: RouteDeps): void {
  const read = { tag: 'contacts', roles: ['operator', 'admin', 'receptionist', 'member'], tenantScoped: true } as const;
  const write = { ...read, roles: ['operator', 'admin', 'receptionist'] } as const;

  const visible = async (input: RouteInput<unknown, unknown>): Promise<Contact> => {
    const c = await d.db.contacts.get(idFrom(input.params['id'], 'contact'));
    if (!c || c.tenantId !== input.tenantId) throw new ApiError(404, 'contact not found');
    return c;
  };

  api.define(
    { ...read, method: 'get', path: '/contacts', summary: 'Phonebook contacts in name order; `q` searches name, company and numbers', query: contactsQuery, response: listOf(contactSchema) },
    async ({ tenantId, query }) => {
      const after = decodeCursor(query.cursor);
      const rows = await d.db.contacts.listPage({ tenantId, limit: query.limit + 1, ...(query.q !== undefined && { q: query.q }), ...(after && { after }) });
      const items = rows.slice(0, query.limit);
      return { items: items.map(showContact), nextCursor: rows.length > query.limit && items.length > 0 ? encodeCursor(items[items.length - 1]!) : null };
    },
  );

  api.define({ ...write, method: 'post', path: '/contacts', summary: 'Add a contact to the phonebook', body: contactCreateBody, response: one, status: 201 }, async ({ tenantId, body, audit }) => {
    const contact = await d.db.transaction(async (tx) => {
      const c = await tx.contacts.add(tenantId, body as ContactInput);
      await audit(tx, { action: 'contact.add', target: `contact:${c.id}`, details: { name: c.name } });
      return c;
    });
    d.changed({ tenantId, kind: 'contacts' });
    return { contact: showContact(contact) };
  });

  api.define(
    { ...read, method: 'get', path: '/contacts/export', summary: 'The whole phonebook as CSV (name,company,numbers,note; numbers joined by ;), streamed', produces: ['text/csv'] },
    async ({ tenantId, ctx }) => {
      ctx.type = 'text/csv; charset=utf-8';
      ctx.attachment(`contacts-${new Date().toISOString().slice(0, 10)}.csv`);
      const rows = d.db.contacts.iterate(tenantId);
      ctx.body = Readable.from(
        (async function* () {
          yield phonebookCsvHeader();
          for await (const c of rows) yield phonebookCsvLine(c);
        })(),
      );
      return undefined;
    },
  );

  api.define(
    {
      ...write, method: 'post', path: '/contacts/import', consumes: ['text/csv'], response: contactImportResponse,
      summary: 'Import a phonebook CSV (same header as the export): a row with the name and company of a contact updates it, others are added; bad rows are reported by line',
    },
    async (input) => {
      const { tenantId } = input;
      let rows;
      try {
        rows = parsePhonebookCsv(await readCsvBody(input));
      } catch (err) {
        if (err instanceof PhonebookCsvHeaderError) throw new ApiError(400, `body: ${err.message}`, 'body');
        throw err;
      }
      const errors: Array<{ line: number; message: string }> = [];
      const result = await d.db.transaction(async (tx) => {
        const existing = new Map<string, Contact>();
        for await (const c of tx.contacts.iterate(tenantId)) existing.set(importKey(c), c);
        let created = 0;
        let updated = 0;
        for (const row of rows) {
          if (!row.ok) {
            errors.push({ line: row.line, message: row.message });
            continue;
          }
          try {
            const checked = checkContactInput(row.contact);
            const known = existing.get(importKey(checked));
            if (known) {
              const c = await tx.contacts.update(tenantId, known.id, checked);
              if (c) existing.set(importKey(c), c);
              updated++;
            } else {
              const c = await tx.contacts.add(tenantId, checked);
              existing.set(importKey(c), c);
              created++;
            }
          } catch (err) {
            if (!(err instanceof ValidationError)) throw err;
            errors.push({ line: row.line, message: err.message });
          }
        }
        await input.audit(tx, { action: 'contact.import', target: 'contacts', details: { created, updated, errors: errors.length } });
        return { created, updated };
      });
      if (result.created + result.updated > 0) d.changed({ tenantId, kind: 'contacts' });
      return { ...result, errors };
    },
  );

  api.define({ ...read, method: 'get', path: '/contacts/:id', summary: 'One contact', response: one }, async (input) => ({ contact: showContact(await visible(input)) }));

  api.define({ ...write, method: 'patch', path: '/contacts/:id', summary: 'Change a contact (the fields given)', body: contactPatchBody, response: one }, async (input) => {
    const was = await visible(input);
    const { tenantId, body } = input;
    const contact = await d.db.transaction(async (tx) => {
      const c = await tx.contacts.update(tenantId, was.id, body as Partial<ContactInput>);
      if (!c) throw new ApiError(404, 'contact not found');
      await input.audit(tx, { action: 'contact.update', target: `contact:${c.id}`, details: { fields: Object.keys(body) } });
      return c;
    });
    d.changed({ tenantId, kind: 'contacts' });
    return { contact: showContact(contact) };
  });

  api.define({ ...write, method: 'delete', path: '/contacts/:id', summary: 'Remove a contact', status: 204 }, async (input) => {
    const c = await visible(input);
    await d.db.transaction(async (tx) => {
      await tx.contacts.remove(input.tenantId, c.id);
      await input.audit(tx, { action: 'contact.remove', target: `contact:${c.id}`, details: { name: c.name } });
    });
    d.changed({ tenantId: input.tenantId, kind: 'contacts' });
    return undefined;
  });
}
