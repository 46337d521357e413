import type { Selectable } from 'kysely';
import { ValidationError } from '../errors.ts';
import type { ContactsTable } from '../schema.ts';
import { escapeLike, inTransaction, insertedId, likeColumn, parseJson, type RepositoryContext } from './context.ts';

/** One entry of a tenant's phonebook (the switchboard shows `name` for a call from one of `numbers`). */
export interface Contact {
  id: number;
  tenantId: number;
  name: string;
  company: string | null;
  /** As typed (`+49 30 1234-56`); matching uses normalizeContactNumber. */
  numbers: string[];
  note: string | null;
  createdAt: number;
  updatedAt: number;
}

export interface ContactInput {
  name: string;
  company?: string | null;
  numbers?: readonly string[];
  note?: string | null;
}

export const CONTACT_NAME_MAX = 255;
export const CONTACT_COMPANY_MAX = 255;
export const CONTACT_NOTE_MAX = 2000;
export const CONTACT_NUMBERS_MAX = 20;
export const CONTACT_NUMBER_MAX = 40;
/** A phonebook is bounded like every table a tenant can grow. */
export const CONTACTS_PER_TENANT_MAX = 20_000;

/** Characters people type inside phone numbers; anything else makes the number invalid. */
const NUMBER_TEXT = /^\+?[0-9 ()./-]+$/;

/**
 * The form numbers are matched in: digits, with a leading `+` kept (so `+49 30 1234` and
 * `+49301234` are one number, and `0049…` stays distinct from `+49…` as dialled). Undefined when
 * the text has no digits at all.
 */
export function normalizeContactNumber(text: string): string | undefined {
  const t = text.trim();
  const digits = t.replace(/[^0-9]/g, '');
  if (digits === '') return undefined;
  return (t.startsWith('+') ? '+' : '') + digits;
}

function checkText(field: string, value: string, max: number, oneLine: boolean): string {
  if (value.length > max) throw new ValidationError(field, `at most ${max} characters`);
  if (oneLine && /[\r\n\0]/.test(value)) throw new ValidationError(field, 'must be on one line');
  if (value.includes('\0')) throw new ValidationError(field, 'must not contain NUL');
  return value;
}

/** Validated, trimmed input (throws ValidationError naming the field). */
export function checkContactInput(input: ContactInput): Required<ContactInput> {
  const name = checkText('name', input.name.trim(), CONTACT_NAME_MAX, true);
  if (name === '') throw new ValidationError('name', 'must not be empty');
  const company = input.company == null || input.company.trim() === '' ? null : checkText('company', input.company.trim(), CONTACT_COMPANY_MAX, true);
  const note = input.note == null || input.note === '' ? null : checkText('note', input.note, CONTACT_NOTE_MAX, false);
  const numbers = (input.numbers ?? []).map((n) => n.trim()).filter((n) => n !== '');
  if (numbers.length > CONTACT_NUMBERS_MAX) throw new ValidationError('numbers', `at most ${CONTACT_NUMBERS_MAX} numbers`);
  numbers.forEach((n, i) => {
    if (n.length > CONTACT_NUMBER_MAX || !NUMBER_TEXT.test(n) || normalizeContactNumber(n) === undefined) {
      throw new ValidationError(`numbers.${i}`, `expected a phone number (digits, spaces, ( ) . / -, optional leading +), got "${n.slice(0, 60)}"`);
    }
  });
  return { name, company, numbers, note };
}

function searchText(c: Required<ContactInput>): string {
  const normalized = c.numbers.map((n) => normalizeContactNumber(n)!);
  return [c.name, c.company ?? '', ...c.numbers, ...normalized].join('\n').toLowerCase();
}

function toContact(r: Selectable<ContactsTable>): Contact {
  return {
    id: r.id, tenantId: r.tenant_id, name: r.name, company: r.company, numbers: parseJson<string[]>(r.numbers, []), note: r.note,
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  };
}

export interface ContactPageQuery {
  tenantId: number;
  limit: number;
  /** Text in name, company or a number (a number also matches when typed with other separators). */
  q?: string;
  /** Keyset cursor: rows after this (name, id), in name order. */
  after?: { name: string; id: number };
}

export class ContactsRepository {
  constructor(private readonly ctx: RepositoryContext) {}

  async add(tenantId: number, input: ContactInput): Promise<Contact> {
    const c = checkContactInput(input);
    const now = Date.now();
    const values = {
      tenant_id: tenantId, name: c.name, company: c.company, numbers: JSON.stringify(c.numbers), note: c.note, search: searchText(c),
      created_at: now, updated_at: now,
    };
    const id = await inTransaction(this.ctx.db, async (trx) => {
      const { n } = await trx.selectFrom('contacts').select((eb) => eb.fn.countAll<number>().as('n')).where('tenant_id', '=', tenantId).executeTakeFirstOrThrow();
      if (Number(n) >= CONTACTS_PER_TENANT_MAX) throw new ValidationError('contacts', `a phonebook holds at most ${CONTACTS_PER_TENANT_MAX} contacts`);
      return insertedId(await trx.insertInto('contacts').values(values).executeTakeFirstOrThrow());
    });
    return toContact({ id, ...values });
  }

  async get(id: number): Promise<Contact | undefined> {
    const r = await this.ctx.db.selectFrom('contacts').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toContact(r) : undefined;
  }

  /** Replaces the fields given; the tenant is part of the key so another tenant's id changes nothing. */
  async update(tenantId: number, id: number, patch: Partial<ContactInput>): Promise<Contact | undefined> {
    const current = await this.ctx.db.selectFrom('contacts').selectAll().where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst();
    if (!current) return undefined;
    const was = toContact(current);
    const c = checkContactInput({
      name: patch.name ?? was.name,
      company: patch.company !== undefined ? patch.company : was.company,
      numbers: patch.numbers ?? was.numbers,
      note: patch.note !== undefined ? patch.note : was.note,
    });
    const values = { name: c.name, company: c.company, numbers: JSON.stringify(c.numbers), note: c.note, search: searchText(c), updated_at: Date.now() };
    await this.ctx.db.updateTable('contacts').set(values).where('id', '=', id).where('tenant_id', '=', tenantId).execute();
    return toContact({ ...current, ...values });
  }

  async remove(tenantId: number, id: number): Promise<boolean> {
    const r = await this.ctx.db.deleteFrom('contacts').where('id', '=', id).where('tenant_id', '=', tenantId).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  /** A page in name order (limit rows; ask for one more to learn whether a next page exists). */
  async listPage(query: ContactPageQuery): Promise<Contact[]> {
    let sel = this.ctx.db.selectFrom('contacts').selectAll().where('tenant_id', '=', query.tenantId);
    const q = query.q?.trim().toLowerCase();
    if (q) {
      const forms = [q];
      const asNumber = NUMBER_TEXT.test(q) ? normalizeContactNumber(q) : undefined;
      if (asNumber && asNumber !== q) forms.push(asNumber);
      sel = sel.where((eb) => eb.or(forms.map((f) => likeColumn('search', `%${escapeLike(f)}%`))));
    }
    if (query.after) {
      const { name, id } = query.after;
      sel = sel.where((eb) => eb.or([eb('name', '>', name), eb.and([eb('name', '=', name), eb('id', '>', id)])]));
    }
    return (await sel.orderBy('name').orderBy('id').limit(query.limit).execute()).map(toContact);
  }

  /** Every contact of the tenant in name order, read in pages (export, caller-name cache). */
  async *iterate(tenantId: number, pageSize = 500): AsyncGenerator<Contact> {
    let after: { name: string; id: number } | undefined;
    for (;;) {
      const rows = await this.listPage({ tenantId, limit: pageSize, ...(after && { after }) });
      yield* rows;
      if (rows.length < pageSize) return;
      const last = rows[rows.length - 1]!;
      after = { name: last.name, id: last.id };
    }
  }

  async listAll(tenantId: number): Promise<Contact[]> {
    const out: Contact[] = [];
    for await (const c of this.iterate(tenantId)) out.push(c);
    return out;
  }
}
