import { useState, type FormEvent } from 'react';
import { api, listAll, ApiError, type DialplanLanguage } from '../api/index.ts';
import { EmptyState, ErrorBanner, Field, formatTime } from '../app/components.tsx';
import { ListState } from '../app/list-state.tsx';
import { Link, navigate } from '../app/router.tsx';
import { useAsync } from '../app/use-async.ts';

/** Same rule as the dialplans repository. */
const NAME_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;

const STARTER: Record<DialplanLanguage, string> = {
  ts: `// Runs for every call that uses this dialplan. \`req\` is the request, \`sys\` the switch.
sys.Log(\`call from \${req.from.uri.user} to \${req.uri.user}\`);
const result = await sys.Dial(\`\${req.uri.user}@local\`, { ringTimeout: 30 });
if (!result.answered) await sys.Respond(404, "Not Found");
`,
  js: `// Runs for every call that uses this dialplan. \`req\` is the request, \`sys\` the switch.
sys.Log("call from " + req.from.uri.user + " to " + req.uri.user);
const result = await sys.Dial(req.uri.user + "@local", { ringTimeout: 30 });
if (!result.answered) await sys.Respond(404, "Not Found");
`,
};

export function DialplansPage() {
  const [list, reload] = useAsync(() => listAll(api.dialplans.list), []);
  const [creating, setCreating] = useState(false);

  return (
    <section className="page">
      <div className="page-header">
        <h1>Dialplans</h1>
        <button type="button" className="button button-primary" onClick={() => setCreating(true)} disabled={creating}>
          New dialplan
        </button>
      </div>
      {creating && <CreateDialplan onCancel={() => setCreating(false)} />}
      <ListState
        list={list}
        reload={reload}
        label="Dialplans"
        empty={
          <EmptyState title="No dialplans yet">
            <p>A dialplan decides where a call goes. Create one, then pick it as an account's outgoing or incoming dialplan.</p>
          </EmptyState>
        }
        columns={
          <>
            <th scope="col">Name</th>
            <th scope="col">Language</th>
            <th scope="col">Version</th>
            <th scope="col">Updated</th>
          </>
        }
        row={(d) => (
          <tr key={d.name}>
            <td>
              <Link to={`/dialplans/${encodeURIComponent(d.name)}`}>{d.name}</Link>
            </td>
            <td>{d.language === 'ts' ? 'TypeScript' : 'JavaScript'}</td>
            <td>v{d.version}</td>
            <td>{formatTime(d.updatedAt)}</td>
          </tr>
        )}
      />
    </section>
  );
}

function CreateDialplan({ onCancel }: { onCancel(): void }) {
  const [name, setName] = useState('');
  const [language, setLanguage] = useState<DialplanLanguage>('ts');
  const [error, setError] = useState<{ message: string; field?: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent): Promise<void> => {
    event.preventDefault();
    const trimmed = name.trim();
    if (!NAME_PATTERN.test(trimmed)) {
      setError({ field: 'name', message: 'Use 1–64 letters, digits, dot, dash or underscore.' });
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const existing = await api.dialplans.get(trimmed).catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) return null;
        throw err;
      });
      if (existing) {
        setError({ field: 'name', message: `A dialplan named ${trimmed} exists already.` });
        return;
      }
      await api.dialplans.save(trimmed, { language, source: STARTER[language], message: 'Created' });
      navigate(`/dialplans/${encodeURIComponent(trimmed)}`);
    } catch (err) {
      setError(err instanceof ApiError ? { message: err.message, field: err.field } : { message: String(err) });
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="card form-inline" onSubmit={submit} aria-label="New dialplan" noValidate>
      <Field label="Name" name="name" value={name} autoFocus required onChange={(e) => setName(e.target.value)} error={error?.field === 'name' ? error.message : null} hint="e.g. outgoing, reception" />
      <div className="field">
        <label htmlFor="new-dialplan-language">Language</label>
        <select id="new-dialplan-language" value={language} onChange={(e) => setLanguage(e.target.value as DialplanLanguage)}>
          <option value="ts">TypeScript</option>
          <option value="js">JavaScript</option>
        </select>
      </div>
      <div className="form-actions">
        <button type="submit" className="button button-primary" disabled={busy}>
          Create
        </button>
        <button type="button" className="button" onClick={onCancel} disabled={busy}>
          Cancel
        </button>
      </div>
      {error && error.field !== 'name' && <ErrorBanner error={new Error(error.message)} />}
    </form>
  );
}
