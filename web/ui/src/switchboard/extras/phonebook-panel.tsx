import { useEffect, useRef, useState, type FormEvent } from 'react';
import { ApiError } from '../../api/index.ts';
import { describeError } from '../../app/components.tsx';
import { extrasApi, type Contact, type ImportResult } from './extras-api.ts';

/** The tenant phonebook: search, add, remove, CSV import and export (names on calls come from the server). */
export function PhonebookPanel({ onError }: { onError(message: string): void }) {
  const [q, setQ] = useState('');
  const [items, setItems] = useState<Contact[] | null>(null);
  const [available, setAvailable] = useState(true);
  const [adding, setAdding] = useState(false);
  const [form, setForm] = useState({ name: '', company: '', numbers: '', note: '' });
  const [imported, setImported] = useState<ImportResult | null>(null);
  const [reload, setReload] = useState(0);
  const fileRef = useRef<HTMLInputElement>(null);

  useEffect(() => {
    let live = true;
    const timer = setTimeout(() => {
      extrasApi.contacts.list({ q: q.trim() || undefined, limit: 50 }).then(
        (page) => { if (live) { setItems(page.items); setAvailable(true); } },
        (e: unknown) => {
          if (!live) return;
          if (e instanceof ApiError && e.status === 404) setAvailable(false);
          else onError(`Phonebook: ${describeError(e)}`);
        },
      );
    }, 200); // typing: one search when the typing pauses
    return () => { live = false; clearTimeout(timer); };
  }, [q, reload, onError]);

  const add = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    try {
      await extrasApi.contacts.create({
        name: form.name.trim(), numbers: form.numbers.split(/[;,\s]+/).filter(Boolean),
        ...(form.company.trim() && { company: form.company.trim() }), ...(form.note.trim() && { note: form.note.trim() }),
      });
      setForm({ name: '', company: '', numbers: '', note: '' });
      setAdding(false);
      setReload((n) => n + 1);
    } catch (e) {
      onError(`Add contact: ${describeError(e)}`);
    }
  };
  const importFile = async (file: File): Promise<void> => {
    try {
      setImported(await extrasApi.contacts.import(await file.text()));
      setReload((n) => n + 1);
    } catch (e) {
      onError(`Import: ${describeError(e)}`);
    } finally {
      if (fileRef.current) fileRef.current.value = '';
    }
  };
  const remove = async (c: Contact): Promise<void> => {
    try {
      await extrasApi.contacts.remove(c.id);
      setReload((n) => n + 1);
    } catch (e) {
      onError(`Delete ${c.name}: ${describeError(e)}`);
    }
  };

  if (!available) return null;
  return (
    <section className="board-panel board-phonebook" aria-labelledby="board-phonebook-title">
      <header className="board-panel-header">
        <h2 id="board-phonebook-title">Phonebook</h2>
        <span className="button-row">
          <button type="button" className="button button-tiny" onClick={() => setAdding(!adding)} aria-expanded={adding}>New contact</button>
          <a className="button button-tiny" href={extrasApi.contacts.exportUrl} download="contacts.csv">Export CSV</a>
          <label className="button button-tiny file-button">Import CSV
            <input ref={fileRef} type="file" accept=".csv,text/csv" className="sr-only" aria-label="Import CSV" onChange={(e) => { const f = e.target.files?.[0]; if (f) void importFile(f); }} />
          </label>
        </span>
      </header>
      <input type="search" className="board-search" aria-label="Search the phonebook" placeholder="Search name, company, number" value={q} onChange={(e) => setQ(e.target.value)} />
      {adding && (
        <form className="contact-form" aria-label="New contact" onSubmit={(e) => void add(e)}>
          <input aria-label="Name" placeholder="Name" required value={form.name} onChange={(e) => setForm({ ...form, name: e.target.value })} />
          <input aria-label="Company" placeholder="Company" value={form.company} onChange={(e) => setForm({ ...form, company: e.target.value })} />
          <input aria-label="Numbers" placeholder="Numbers (; between)" required value={form.numbers} onChange={(e) => setForm({ ...form, numbers: e.target.value })} />
          <input aria-label="Note" placeholder="Note" value={form.note} onChange={(e) => setForm({ ...form, note: e.target.value })} />
          <button type="submit" className="button button-tiny button-primary">Save contact</button>
        </form>
      )}
      {imported && (
        <div className={`banner ${imported.errors.length ? 'banner-warn' : 'banner-info'}`} role="status" data-testid="import-result">
          <span>Imported: {imported.created} new, {imported.updated} updated{imported.errors.length ? `; ${imported.errors.length} line(s) refused: ${imported.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}` : ''}.</span>
          <button type="button" className="button button-tiny" onClick={() => setImported(null)}>OK</button>
        </div>
      )}
      {items && items.length === 0 && <p className="board-empty">{q ? 'Nobody matches.' : 'The phonebook is empty.'}</p>}
      {items && items.length > 0 && (
        <ul className="contact-list" aria-label="Contacts">
          {items.map((c) => (
            <li key={c.id} className="contact">
              <span className="contact-main"><strong>{c.name}</strong>{c.company && <span className="muted"> · {c.company}</span>}</span>
              <span className="contact-numbers mono">{c.numbers.join(', ')}</span>
              {c.note && <span className="contact-note muted">{c.note}</span>}
              <button type="button" className="link-button contact-delete" aria-label={`Delete ${c.name}`} onClick={() => void remove(c)}>Delete</button>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
