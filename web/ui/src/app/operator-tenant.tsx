import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { adminApi, listAll, setOperatorTenant, type Tenant } from '../api/index.ts';

/**
 * The tenant an operator is working on. Operators belong to no tenant, so the tenant-scoped
 * routes need one named; the choice lives in sessionStorage (per tab) and every request of the
 * API client carries it. For tenant users this is inert: their tenant is their own.
 */
interface OperatorTenantValue {
  isOperator: boolean;
  tenants: Tenant[];
  tenantId: number | null;
  choose(id: number | null): void;
  refreshTenants(): void;
}

const KEY = 'patchbay.operatorTenant';
const OperatorTenantContext = createContext<OperatorTenantValue>({ isOperator: false, tenants: [], tenantId: null, choose: () => {}, refreshTenants: () => {} });

function stored(): number | null {
  const raw = sessionStorage.getItem(KEY);
  return raw && /^\d+$/.test(raw) ? Number(raw) : null;
}

export function OperatorTenantProvider({ isOperator, children }: { isOperator: boolean; children: ReactNode }) {
  const [tenantId, setTenantId] = useState<number | null>(() => {
    const id = isOperator ? stored() : null;
    setOperatorTenant(id);
    return id;
  });
  const [tenants, setTenants] = useState<Tenant[]>([]);
  const [tick, setTick] = useState(0);

  const choose = useCallback((id: number | null) => {
    setOperatorTenant(id);
    if (id === null) sessionStorage.removeItem(KEY);
    else sessionStorage.setItem(KEY, String(id));
    setTenantId(id);
  }, []);

  useEffect(() => {
    if (!isOperator) return;
    let live = true;
    listAll(adminApi.tenants.list).then(
      ({ items }) => {
        if (!live) return;
        setTenants(items);
        // A deleted tenant is no longer a choice.
        if (tenantId !== null && !items.some((t) => t.id === tenantId)) choose(null);
      },
      () => {},
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [isOperator, tick]);

  useEffect(() => () => setOperatorTenant(null), []);

  const refreshTenants = useCallback(() => setTick((n) => n + 1), []);
  const value = useMemo(() => ({ isOperator, tenants, tenantId, choose, refreshTenants }), [isOperator, tenants, tenantId, choose, refreshTenants]);
  return <OperatorTenantContext.Provider value={value}>{children}</OperatorTenantContext.Provider>;
}

export function useOperatorTenant(): OperatorTenantValue {
  return useContext(OperatorTenantContext);
}

/** The operator's tenant chooser in the top bar. */
export function TenantPicker() {
  const { tenants, tenantId, choose } = useOperatorTenant();
  return (
    <label className="tenant-picker">
      <span className="tenant-picker-label">Tenant</span>
      <select value={tenantId ?? ''} onChange={(e) => choose(e.target.value === '' ? null : Number(e.target.value))} aria-label="Working on tenant">
        <option value="">Choose…</option>
        {tenants.map((t) => (
          <option key={t.id} value={t.id}>
            {t.domain}
          </option>
        ))}
      </select>
    </label>
  );
}
