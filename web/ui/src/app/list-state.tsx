import type { ReactNode } from 'react';
import { ErrorBanner, Spinner } from './components.tsx';
import type { AsyncState } from './use-async.ts';

/**
 * A loaded list in its four looks: the load's error (with retry), a spinner on the first load
 * only (a reload keeps the old rows so the table doesn't jump), the empty state once it loaded
 * with nothing, else the table. `actionError` is a row action's failure, shown under the load's.
 */
export function ListState<T>({
  list,
  reload,
  label,
  columns,
  row,
  empty,
  actionError,
}: {
  list: AsyncState<{ items: T[] }>;
  reload(): void;
  /** The table's accessible name. */
  label: string;
  /** The header row's cells. */
  columns: ReactNode;
  /** One item's <tr>, with its key. */
  row(item: T): ReactNode;
  empty: ReactNode;
  actionError?: unknown;
}) {
  const items = list.data?.items ?? [];
  return (
    <>
      {list.status === 'error' && <ErrorBanner error={list.error} onRetry={reload} />}
      {actionError !== undefined && actionError !== null && <ErrorBanner error={actionError} />}
      {list.status === 'loading' && !list.data && <Spinner />}
      {list.data && items.length === 0 && empty}
      {items.length > 0 && (
        <div className="table-wrap">
          <table className="table" aria-label={label}>
            <thead>
              <tr>{columns}</tr>
            </thead>
            <tbody>{items.map(row)}</tbody>
          </table>
        </div>
      )}
    </>
  );
}
