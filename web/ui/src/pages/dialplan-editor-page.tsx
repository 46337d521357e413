import { lazy, Suspense, useCallback, useEffect, useRef, useState } from 'react';
import { api, listAll, ApiError, CompileFailedError, type Account, type CompileError, type Dialplan, type DialplanVersion } from '../api/index.ts';
import { ConfirmDialog, describeError, EmptyState, ErrorBanner, formatTime, Spinner } from '../app/components.tsx';
import { canOpen } from '../app/roles.ts';
import { Link, navigate, setNavigationGuard } from '../app/router.tsx';
import { useSignedIn } from '../app/session.tsx';
import { useAsync } from '../app/use-async.ts';
import { CodeEditor, type CursorPosition } from '../editor/code-editor.tsx';
import { DiffView } from '../editor/diff-view.tsx';

type Tab = 'source' | 'history' | 'dry-run';

const TABS: readonly Tab[] = ['source', 'history', 'dry-run'];

/** The dry run's form and timeline come with their own chunk, fetched when the tab is first opened. */
const DryRunPanel = lazy(() => import('../dry-run/dry-run-panel.tsx'));

type SaveState =
  | { status: 'idle' }
  | { status: 'saving' }
  | { status: 'saved'; version: number }
  | { status: 'compile-failed'; errors: CompileError[] }
  | { status: 'failed'; message: string };

export default function DialplanEditorPage({ name }: { name: string }) {
  const [loaded, reload] = useAsync(() => api.dialplans.get(name), [name]);
  if (loaded.status === 'error' && !loaded.data) {
    const missing = loaded.error instanceof ApiError && loaded.error.status === 404;
    return (
      <section className="page">
        <h1>{name}</h1>
        {missing ? (
          <EmptyState title={`There is no dialplan named ${name}.`}>
            <Link to="/dialplans">Back to the dialplans</Link>
          </EmptyState>
        ) : (
          <ErrorBanner error={loaded.error} onRetry={reload} />
        )}
      </section>
    );
  }
  if (!loaded.data) return <Spinner />;
  return <Editor initial={loaded.data} />;
}

function Editor({ initial }: { initial: Dialplan }) {
  const { user } = useSignedIn();
  const [current, setCurrent] = useState(initial);
  const [draft, setDraft] = useState(initial.source);
  const [message, setMessage] = useState('');
  const [save, setSave] = useState<SaveState>({ status: 'idle' });
  const [tab, setTab] = useState<Tab>('source');
  const [cursor, setCursor] = useState<CursorPosition>({ line: 1, column: 1 });
  const [confirmDelete, setConfirmDelete] = useState(false);
  const [deleteError, setDeleteError] = useState<unknown>(null);
  const [deleting, setDeleting] = useState(false);
  const [historyTick, setHistoryTick] = useState(0);
  const [dryRunOpened, setDryRunOpened] = useState(false);
  // Bumped when the source is replaced from outside the editor (rollback): the editor restarts on it.
  const [editorEpoch, setEditorEpoch] = useState(0);
  const reveal = useRef<((line: number, column: number) => void) | null>(null);
  const dirty = draft !== current.source;
  const compileErrors = save.status === 'compile-failed' ? save.errors : NO_ERRORS;

  const doSave = useCallback(async () => {
    if (save.status === 'saving') return;
    setSave({ status: 'saving' });
    try {
      const saved = await api.dialplans.save(current.name, { language: current.language, source: draft, ...(message.trim() && { message: message.trim() }) });
      setCurrent(saved);
      setDraft(saved.source);
      setMessage('');
      setSave({ status: 'saved', version: saved.version });
      setHistoryTick((n) => n + 1);
    } catch (error) {
      if (error instanceof CompileFailedError) setSave({ status: 'compile-failed', errors: error.errors });
      else setSave({ status: 'failed', message: describeError(error) });
    }
  }, [current, draft, message, save.status]);

  // Unsaved edits are not lost silently: not on reload or close, not on a click elsewhere in the app.
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent): void => event.preventDefault();
    window.addEventListener('beforeunload', warn);
    const removeGuard = setNavigationGuard(() => window.confirm(`${current.name} has unsaved changes. Leave without saving?`));
    return () => {
      window.removeEventListener('beforeunload', warn);
      removeGuard();
    };
  }, [dirty, current.name]);

  const remove = async (): Promise<void> => {
    setDeleting(true);
    setDeleteError(null);
    try {
      await api.dialplans.remove(current.name);
      navigate('/dialplans', { force: true });
    } catch (error) {
      setDeleteError(error);
      setDeleting(false);
      setConfirmDelete(false);
    }
  };

  const openTab = (next: Tab): void => {
    if (next === 'dry-run') setDryRunOpened(true);
    setTab(next);
  };

  const revealInSource = (line: number, column: number): void => {
    setTab('source');
    // The editor is laid out again once its panel is visible; reveal after that.
    requestAnimationFrame(() => reveal.current?.(line, column));
  };

  const onRolledBack = (dialplan: Dialplan): void => {
    setCurrent(dialplan);
    setDraft(dialplan.source);
    setSave({ status: 'saved', version: dialplan.version });
    setHistoryTick((n) => n + 1);
    setEditorEpoch((n) => n + 1);
  };

  return (
    <section className="page page-editor">
      <div className="page-header">
        <div>
          <p className="breadcrumb">
            <Link to="/dialplans">Dialplans</Link> /
          </p>
          <h1>
            {current.name} <span className="badge">{current.language === 'ts' ? 'TypeScript' : 'JavaScript'}</span>{' '}
            <span className="badge badge-muted" data-testid="current-version">v{current.version}</span>
          </h1>
        </div>
        <button type="button" className="button button-danger" onClick={() => setConfirmDelete(true)}>
          Delete
        </button>
      </div>
      {deleteError !== null && <ErrorBanner error={deleteError} />}
      {canOpen(user.role, 'accounts') && <UsedBy name={current.name} />}

      <div
        className="tabs"
        role="tablist"
        aria-label="Dialplan views"
        onKeyDown={(event) => {
          if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
          const step = event.key === 'ArrowRight' ? 1 : TABS.length - 1;
          const next = TABS[(TABS.indexOf(tab) + step) % TABS.length]!;
          openTab(next);
          document.getElementById(`tab-${next}`)?.focus();
        }}
      >
        <button type="button" role="tab" id="tab-source" tabIndex={tab === 'source' ? 0 : -1} aria-selected={tab === 'source'} aria-controls="panel-source" onClick={() => setTab('source')}>
          Source{dirty ? ' •' : ''}
        </button>
        <button type="button" role="tab" id="tab-history" tabIndex={tab === 'history' ? 0 : -1} aria-selected={tab === 'history'} aria-controls="panel-history" onClick={() => setTab('history')}>
          History
        </button>
        <button type="button" role="tab" id="tab-dry-run" tabIndex={tab === 'dry-run' ? 0 : -1} aria-selected={tab === 'dry-run'} aria-controls="panel-dry-run" onClick={() => openTab('dry-run')}>
          Dry run
        </button>
      </div>

      {/* The editor stays mounted under History, so its undo stack and cursor survive a look at the versions. */}
      <div role="tabpanel" id="panel-source" aria-labelledby="tab-source" className="editor-panel" hidden={tab !== 'source'}>
          <CodeEditor
            key={editorEpoch}
            name={current.name}
            language={current.language}
            initialValue={draft}
            compileErrors={compileErrors}
            onChange={setDraft}
            onSave={() => void doSave()}
            onCursor={setCursor}
            revealRef={reveal}
          />
          <div className="editor-status" aria-live="polite">
            <span data-testid="cursor-position">
              Ln {cursor.line}, Col {cursor.column}
            </span>
            <span data-testid="save-status">
              {save.status === 'saving' && 'Saving…'}
              {save.status === 'saved' && !dirty && `Saved as v${save.version}`}
              {save.status === 'compile-failed' && `Not saved: ${save.errors.length} compile error${save.errors.length === 1 ? '' : 's'}`}
              {save.status === 'failed' && `Not saved: ${save.message}`}
              {(save.status === 'idle' || save.status === 'saved') && dirty && 'Unsaved changes'}
            </span>
          </div>
          {save.status === 'compile-failed' && (
            <div className="banner banner-error compile-errors" role="alert">
              <p>The switch could not compile this source, so nothing was stored. Fix the marked lines and save again.</p>
              <ul>
                {save.errors.map((error, i) => (
                  <li key={i}>
                    <button type="button" className="link-button" onClick={() => reveal.current?.(error.line, error.column)}>
                      Line {error.line}, column {error.column}
                    </button>
                    : {error.message}
                  </li>
                ))}
              </ul>
            </div>
          )}
          <form
            className="save-bar"
            onSubmit={(event) => {
              event.preventDefault();
              void doSave();
            }}
          >
            <div className="field field-grow">
              <label htmlFor="version-message">Version message</label>
              <input id="version-message" name="message" maxLength={500} placeholder="What changed (optional)" value={message} onChange={(e) => setMessage(e.target.value)} />
            </div>
            <button type="submit" className="button button-primary" disabled={save.status === 'saving' || (!dirty && !message.trim())} title="Save (Ctrl+S)">
              Save
            </button>
          </form>
      </div>
      {tab === 'history' && (
        <div role="tabpanel" id="panel-history" aria-labelledby="tab-history">
          <History key={historyTick} dialplan={current} dirty={dirty} onRolledBack={onRolledBack} />
        </div>
      )}
      {/* Kept mounted once opened, so the call described there survives a trip to the source. */}
      {dryRunOpened && (
        <div role="tabpanel" id="panel-dry-run" aria-labelledby="tab-dry-run" hidden={tab !== 'dry-run'}>
          <Suspense fallback={<Spinner />}>
            <DryRunPanel name={current.name} language={current.language} source={draft} dirty={dirty} onReveal={revealInSource} />
          </Suspense>
        </div>
      )}

      <ConfirmDialog
        open={confirmDelete}
        title={`Delete ${current.name}?`}
        confirmLabel="Delete dialplan"
        danger
        busy={deleting}
        onConfirm={() => void remove()}
        onCancel={() => setConfirmDelete(false)}
      >
        <p>All its versions are removed. Accounts that use it will no longer find a dialplan for their calls.</p>
      </ConfirmDialog>
    </section>
  );
}

const NO_ERRORS: CompileError[] = [];

function UsedBy({ name }: { name: string }) {
  const [accounts] = useAsync(() => listAll(api.accounts.list), []);
  if (accounts.status !== 'ready') return null;
  const users = accounts.data.items.flatMap((a: Account) => {
    const uses: string[] = [];
    if (a.outDialplan === name) uses.push('outgoing');
    if (a.inDialplan === name) uses.push('incoming');
    return uses.length ? [{ account: a, uses }] : [];
  });
  return (
    <p className="muted used-by" data-testid="used-by">
      {users.length === 0
        ? 'No account uses this dialplan yet.'
        : <>Used by {users.map(({ account, uses }, i) => (
            <span key={account.id}>
              {i > 0 && ', '}
              <Link to={`/accounts/${account.id}`}>{account.username}@{account.domain}</Link> ({uses.join(' and ')})
            </span>
          ))}</>}
    </p>
  );
}

function History({ dialplan, dirty, onRolledBack }: { dialplan: Dialplan; dirty: boolean; onRolledBack(d: Dialplan): void }) {
  const [versions, reload] = useAsync(() => listAll((q) => api.dialplans.versions(dialplan.name, q)), [dialplan.name]);
  const items = [...(versions.data?.items ?? [])].sort((a, b) => b.version - a.version);
  const [from, setFrom] = useState<number | null>(null);
  const [to, setTo] = useState<number | null>(null);
  const [diff, setDiff] = useState<{ from: Dialplan; to: Dialplan } | null>(null);
  const [diffError, setDiffError] = useState<unknown>(null);
  const [rollbackTo, setRollbackTo] = useState<DialplanVersion | null>(null);
  const [rollbackError, setRollbackError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (items.length >= 2 && from === null && to === null) {
      setFrom(items[1]!.version);
      setTo(items[0]!.version);
    }
  }, [items, from, to]);

  const showDiff = async (): Promise<void> => {
    if (from === null || to === null) return;
    setDiffError(null);
    try {
      const [a, b] = await Promise.all([api.dialplans.version(dialplan.name, from), api.dialplans.version(dialplan.name, to)]);
      setDiff({ from: a, to: b });
    } catch (error) {
      setDiffError(error);
    }
  };

  const rollback = async (): Promise<void> => {
    if (!rollbackTo) return;
    setBusy(true);
    setRollbackError(null);
    try {
      const result = await api.dialplans.rollback(dialplan.name, rollbackTo.version);
      setRollbackTo(null);
      onRolledBack(result);
    } catch (error) {
      setRollbackError(error);
      setRollbackTo(null);
    } finally {
      setBusy(false);
    }
  };

  if (versions.status === 'error') return <ErrorBanner error={versions.error} onRetry={reload} />;
  if (!versions.data) return <Spinner />;
  return (
    <div className="history">
      {rollbackError !== null && <ErrorBanner error={rollbackError} />}
      <div className="table-wrap"><table className="table" aria-label="Versions">
        <thead>
          <tr>
            <th scope="col">Version</th>
            <th scope="col">Author</th>
            <th scope="col">Saved</th>
            <th scope="col">Message</th>
            <th scope="col"><span className="sr-only">Actions</span></th>
          </tr>
        </thead>
        <tbody>
          {items.map((v) => (
            <tr key={v.version} data-version={v.version}>
              <td>
                v{v.version}
                {v.version === dialplan.version && <span className="badge badge-ok">current</span>}
              </td>
              <td>{v.author ?? '—'}</td>
              <td>{formatTime(v.createdAt)}</td>
              <td>{v.message ?? <span className="muted">no message</span>}</td>
              <td className="cell-actions">
                {v.version !== dialplan.version && (
                  <button type="button" className="button button-small" onClick={() => setRollbackTo(v)}>
                    Roll back to v{v.version}
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table></div>

      {items.length >= 2 ? (
        <form
          className="form-inline diff-picker"
          onSubmit={(event) => {
            event.preventDefault();
            void showDiff();
          }}
        >
          <div className="field">
            <label htmlFor="diff-from">Compare</label>
            <select id="diff-from" value={from ?? ''} onChange={(e) => setFrom(Number(e.target.value))}>
              {items.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}
            </select>
          </div>
          <div className="field">
            <label htmlFor="diff-to">with</label>
            <select id="diff-to" value={to ?? ''} onChange={(e) => setTo(Number(e.target.value))}>
              {items.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}
            </select>
          </div>
          <button type="submit" className="button">Show diff</button>
        </form>
      ) : (
        <p className="muted">Save another version to compare versions.</p>
      )}
      {diffError !== null && <ErrorBanner error={diffError} />}
      {diff && (
        <div className="diff">
          <p className="diff-caption">
            <strong>v{diff.from.version}</strong> ({diff.from.message ?? 'no message'}) → <strong>v{diff.to.version}</strong> ({diff.to.message ?? 'no message'})
          </p>
          <DiffView original={diff.from.source} modified={diff.to.source} language={dialplan.language} label={dialplan.name} />
        </div>
      )}

      <ConfirmDialog
        open={rollbackTo !== null}
        title={`Roll back to v${rollbackTo?.version ?? ''}?`}
        confirmLabel={`Roll back to v${rollbackTo?.version ?? ''}`}
        busy={busy}
        onConfirm={() => void rollback()}
        onCancel={() => setRollbackTo(null)}
      >
        <p>
          This saves a new version v{dialplan.version + 1} with the source of v{rollbackTo?.version}; calls use it at once. Nothing of the
          history is lost.
        </p>
        {dirty && <p className="banner banner-warn">Your unsaved changes in the editor will be replaced.</p>}
      </ConfirmDialog>
    </div>
  );
}
