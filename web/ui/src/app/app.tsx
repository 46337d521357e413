import { lazy, Suspense, useEffect, useState } from 'react';
import { ErrorBanner, Spinner } from './components.tsx';
import { canOpen, homePage, PAGE_ORDER, PAGE_TITLES, ROLE_LABELS, TENANT_PAGES, TOPBAR_PAGES, type PageId } from './roles.ts';
import { OperatorTenantProvider, TenantPicker, useOperatorTenant } from './operator-tenant.tsx';
import { Link, matchPath, navigate, usePath } from './router.tsx';
import { useSession, useSignedIn } from './session.tsx';
import { LoginPage } from '../pages/login-page.tsx';
import { SetupPage } from '../pages/setup-page.tsx';
import { DialplansPage } from '../pages/dialplans-page.tsx';
import { AccountsPage } from '../pages/accounts-page.tsx';
import { AccountPage } from '../pages/account-page.tsx';
import { CdrsPage } from '../pages/cdrs-page.tsx';
import { SwitchboardPage } from '../pages/switchboard-page.tsx';
import { TenantsPage } from '../pages/tenants-page.tsx';
import { UsersPage } from '../pages/users-page.tsx';
import { TokensPage } from '../pages/tokens-page.tsx';
import { SecretsPage } from '../pages/secrets-page.tsx';
import { AuditPage } from '../pages/audit-page.tsx';
import { ProvidersPage } from '../pages/providers-page.tsx';
import { ProfilePage } from '../pages/profile-page.tsx';

// Monaco is large: only the editor page pulls it in.
const DialplanEditorPage = lazy(() => import('../pages/dialplan-editor-page.tsx'));
// The console and its ladder are only for those who open it.
const ConsolePage = lazy(() => import('../console/console-page.tsx'));

export function App() {
  const { state, retry } = useSession();
  if (state.status === 'loading') return <div className="boot"><Spinner label="Connecting to the switch…" /></div>;
  if (state.status === 'error') {
    return (
      <div className="boot">
        <ErrorBanner error={new Error(`Cannot reach the switch: ${state.message}`)} onRetry={retry} />
      </div>
    );
  }
  if (state.status === 'anonymous') return window.location.pathname === '/setup' ? <SetupPage /> : <LoginPage expired={state.expired} />;
  return <OperatorShell />;
}

function OperatorShell() {
  const { user } = useSignedIn();
  return (
    <OperatorTenantProvider isOperator={user.role === 'operator'}>
      <Shell />
    </OperatorTenantProvider>
  );
}

function pageOf(path: string): PageId | null {
  const first = path.split('/').filter(Boolean)[0];
  return PAGE_ORDER.find((page) => page === first) ?? null;
}

function Shell() {
  const { user } = useSignedIn();
  const { logout } = useSession();
  const path = usePath();
  const [menuOpen, setMenuOpen] = useState(false);
  const page = pageOf(path);
  const operator = useOperatorTenant();
  const needsTenant = operator.isOperator && operator.tenantId === null && page !== null && TENANT_PAGES.includes(page);

  useEffect(() => {
    if (page === null) navigate(`/${homePage(user.role)}`, { replace: true });
  }, [page, user.role]);
  useEffect(() => setMenuOpen(false), [path]);
  useEffect(() => {
    document.title = page ? `${PAGE_TITLES[page]} · Patchbay` : 'Patchbay';
  }, [page]);

  return (
    <div className="shell">
      <a href="#main" className="skip-link">Skip to content</a>
      <header className="topbar">
        <button type="button" className="menu-toggle" aria-expanded={menuOpen} aria-controls="nav" onClick={() => setMenuOpen(!menuOpen)}>
          <span className="sr-only">Menu</span>
          <span aria-hidden="true">☰</span>
        </button>
        <Link to={`/${homePage(user.role)}`} className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Patchbay
        </Link>
        {operator.isOperator && <TenantPicker />}
        <div className="topbar-user">
          <Link to="/profile" className="user-email" data-testid="user-email" aria-current={page === 'profile' ? 'page' : undefined} title="My profile">{user.email}</Link>
          <span className={`role-badge role-${user.role}`}>{ROLE_LABELS[user.role]}</span>
          <button type="button" className="button button-small" onClick={() => void logout()}>
            Sign out
          </button>
        </div>
      </header>
      <nav id="nav" className={`sidenav${menuOpen ? ' open' : ''}`} aria-label="Main">
        <ul>
          {PAGE_ORDER.filter((p) => canOpen(user.role, p) && !TOPBAR_PAGES.includes(p)).map((p) => (
            <li key={p}>
              <Link to={`/${p}`} aria-current={page === p ? 'page' : undefined}>
                {PAGE_TITLES[p]}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        {page && !canOpen(user.role, page) ? (
          <Forbidden page={page} />
        ) : needsTenant ? (
          <ChooseTenant page={page} />
        ) : (
          <Routes key={operator.tenantId ?? 0} path={path} />
        )}
      </main>
    </div>
  );
}

function Forbidden({ page }: { page: PageId }) {
  const { user } = useSignedIn();
  return (
    <section className="page" data-testid="forbidden">
      <h1>{PAGE_TITLES[page]}</h1>
      <div className="banner banner-error" role="alert">
        The {ROLE_LABELS[user.role].toLowerCase()} role cannot open {PAGE_TITLES[page].toLowerCase()}. Ask an admin of your
        company if you need access.
      </div>
      <Link to={`/${homePage(user.role)}`} className="button">Go to {PAGE_TITLES[homePage(user.role)].toLowerCase()}</Link>
    </section>
  );
}

function ChooseTenant({ page }: { page: PageId }) {
  const { tenants, choose } = useOperatorTenant();
  return (
    <section className="page" data-testid="choose-tenant">
      <h1>{PAGE_TITLES[page]}</h1>
      <div className="card section">
        <p>
          {page === 'console' ? 'The live console shows one tenant at a time.' : `${PAGE_TITLES[page]} belong to a tenant.`} Choose the tenant to work on (you
          can switch in the top bar at any time).
        </p>
        {tenants.length === 0 ? (
          <p>
            There are no tenants yet. <Link to="/tenants">Create one on the tenants page.</Link>
          </p>
        ) : (
          <ul className="choice-list">
            {tenants.map((t) => (
              <li key={t.id}>
                <button type="button" className="button" onClick={() => choose(t.id)}>{t.domain}</button>
              </li>
            ))}
          </ul>
        )}
      </div>
    </section>
  );
}

function Routes({ path }: { path: string }) {
  let params: Record<string, string> | null;
  if ((params = matchPath('/dialplans/:name', path))) {
    return (
      <Suspense fallback={<Spinner label="Loading the editor…" />}>
        <DialplanEditorPage key={params.name} name={params.name!} />
      </Suspense>
    );
  }
  if (matchPath('/dialplans', path)) return <DialplansPage />;
  if ((params = matchPath('/accounts/:id', path))) return <AccountPage key={params.id} id={Number(params.id)} />;
  if (matchPath('/accounts', path)) return <AccountsPage />;
  if (matchPath('/cdrs', path)) return <CdrsPage />;
  if (matchPath('/switchboard', path)) return <SwitchboardPage />;
  if (matchPath('/console', path)) {
    return (
      <Suspense fallback={<Spinner label="Loading the console…" />}>
        <ConsolePage />
      </Suspense>
    );
  }
  if (matchPath('/tenants', path)) return <TenantsPage />;
  if (matchPath('/users', path)) return <UsersPage />;
  if (matchPath('/tokens', path)) return <TokensPage />;
  if (matchPath('/secrets', path)) return <SecretsPage />;
  if (matchPath('/audit', path)) return <AuditPage />;
  if (matchPath('/providers', path)) return <ProvidersPage />;
  if (matchPath('/profile', path)) return <ProfilePage />;
  if (pageOf(path) === null) return null;
  return (
    <section className="page">
      <h1>Page not found</h1>
      <p>There is nothing at {path}.</p>
    </section>
  );
}
