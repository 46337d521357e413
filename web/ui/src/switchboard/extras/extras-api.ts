import { apiRequest, apiText } from '../../api/index.ts';

/**
 * The switchboard's phonebook, call notes and DND, as the switchboard contract describes them
 * (issue 12; served by the board-srv and blf branches). Kept apart from the core client so the
 * part can be dropped or changed with the contract alone.
 */
export interface Contact {
  id: number;
  name: string;
  company: string | null;
  numbers: string[];
  note: string | null;
}

export interface ContactInput {
  name: string;
  company?: string;
  numbers: string[];
  note?: string;
}

export interface ImportResult {
  created: number;
  updated: number;
  errors: Array<{ line: number; message: string }>;
}

const q = (params: Record<string, string | number | undefined>): string => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') s.set(k, String(v));
  const text = s.toString();
  return text ? `?${text}` : '';
};

export const extrasApi = {
  contacts: {
    list: (query: { q?: string; cursor?: string; limit?: number } = {}) =>
      apiRequest<{ items: Contact[]; nextCursor: string | null }>('GET', `/contacts${q(query)}`),
    create: (input: ContactInput) => apiRequest<unknown>('POST', '/contacts', input),
    remove: (id: number) => apiRequest<void>('DELETE', `/contacts/${encodeURIComponent(String(id))}`),
    /** A plain link: the browser downloads it with the session cookie. */
    exportUrl: '/api/v1/contacts/export',
    import: async (csv: string): Promise<ImportResult> => JSON.parse(await apiText('POST', '/contacts/import', csv)) as ImportResult,
  },
  setNote: (callId: string, note: string) => apiRequest<unknown>('PUT', `/calls/${encodeURIComponent(callId)}/note`, { note }),
  setDnd: (accountId: number, dnd: boolean) => apiRequest<unknown>('PUT', `/accounts/${encodeURIComponent(String(accountId))}/dnd`, { dnd }),
};
