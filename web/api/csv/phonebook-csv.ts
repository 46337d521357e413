import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import type { Contact, ContactInput } from '../../../db/index.ts';

/** The phonebook's CSV header; `numbers` holds a contact's numbers joined by `;`. */
export const PHONEBOOK_CSV_COLUMNS = ['name', 'company', 'numbers', 'note'] as const;

/** A formula a spreadsheet would run: text fields starting so get a `'` (OWASP CSV injection). */
const FORMULA_START = /^[=+\-@\t\r]/;

function defuse(text: string | null): string {
  if (!text) return '';
  return FORMULA_START.test(text) ? `'${text}` : text;
}

/** The reverse of defuse, so an exported file imports back to the same text. */
function restore(text: string): string {
  return text.startsWith("'") && FORMULA_START.test(text.slice(1)) ? text.slice(1) : text;
}

export function phonebookCsvHeader(): string {
  return stringify([[...PHONEBOOK_CSV_COLUMNS]], { record_delimiter: '\r\n' });
}

/**
 * One contact as a CSV line. Numbers are not defused: they are validated to digits, spaces and
 * `+ ( ) . / -`, which cannot name a spreadsheet function, and a quote would break round trips.
 */
export function phonebookCsvLine(c: Pick<Contact, 'name' | 'company' | 'numbers' | 'note'>): string {
  return stringify([[defuse(c.name), defuse(c.company), c.numbers.join(';'), defuse(c.note)]], { record_delimiter: '\r\n' });
}

export type PhonebookCsvRow = { line: number; ok: true; contact: ContactInput } | { line: number; ok: false; message: string };

/**
 * Rows of an imported phonebook, each with the line it starts on (1 = the header): a syntax error
 * (an unclosed quote, a wrong field count) is reported for its line and the other rows still count.
 * Throws only when the header is not the phonebook's.
 */
export function parsePhonebookCsv(text: string): PhonebookCsvRow[] {
  const rows: PhonebookCsvRow[] = [];
  const records = parse(text.replace(/^\uFEFF/, ''), {
    info: true,
    raw: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_skip: (err) => {
      if (err) rows.push({ line: (err as { lines?: number }).lines ?? 0, ok: false, message: err.message });
    },
  }) as unknown as Array<{ record: string[]; info: { lines: number }; raw: string }>;
  const [header, ...body] = records;
  const names = header?.record.map((h) => h.trim().toLowerCase()) ?? [];
  if (names.join(',') !== PHONEBOOK_CSV_COLUMNS.join(',')) {
    throw new PhonebookCsvHeaderError(`the first line must be the header ${PHONEBOOK_CSV_COLUMNS.join(',')}`);
  }
  for (const r of body) {
    // A quoted field can span lines: the record starts where its raw text (minus skipped blank lines) began.
    const inner = r.raw.replace(/^(\r?\n)+/, '').replace(/\r?\n$/, '');
    const line = r.info.lines - (inner.match(/\n/g)?.length ?? 0);
    if (r.record.length !== PHONEBOOK_CSV_COLUMNS.length) {
      rows.push({ line, ok: false, message: `expected ${PHONEBOOK_CSV_COLUMNS.length} fields (${PHONEBOOK_CSV_COLUMNS.join(',')}), got ${r.record.length}` });
      continue;
    }
    const [name, company, numbers, note] = r.record as [string, string, string, string];
    rows.push({
      line, ok: true,
      contact: { name: restore(name), company: restore(company), numbers: numbers.split(';').map((n) => n.trim()).filter((n) => n !== ''), note: restore(note) },
    });
  }
  return rows.sort((a, b) => a.line - b.line);
}

export class PhonebookCsvHeaderError extends Error {}
