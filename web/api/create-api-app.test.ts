import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../../db/index.ts';
import { createApiApp } from './index.ts';

describe('createApiApp', () => {
  let dir: string;
  let db: Database;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'patchbay-api-'));
    db = await openDatabase(`sqlite:${path.join(dir, 'api.db')}`);
    await db.migrate();
    const t = await db.tenants.add({ domain: 'api.test' });
    await db.users.add({ email: 'admin@api.test', password: 'admin-password', role: 'admin', tenantId: t.id });
    server = createServer(createApiApp({ db, version: '9.9.9', startedAt: Date.now() - 5000 }).callback());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const post = (p: string, body: string, type = 'application/json') =>
    fetch(base + p, { method: 'POST', headers: { 'content-type': type }, body });

  it('answers health with version, uptime and dialect', async () => {
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; version: string; uptimeSec: number; db: string };
    expect(body).toMatchObject({ status: 'ok', version: '9.9.9', db: 'sqlite' });
    expect(body.uptimeSec).toBeGreaterThanOrEqual(5);
  });

  it('answers bad JSON, bad fields and wrong content type with 4xx JSON', async () => {
    const bad = await post('/auth/login', '{oops');
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: expect.stringMatching(/^invalid JSON/) });

    const field = await post('/auth/login', JSON.stringify({ email: 'admin@api.test', password: 42 }));
    expect(field.status).toBe(400);
    expect(await field.json()).toMatchObject({ field: 'password' });

    const type = await post('/auth/login', 'email=x', 'application/x-www-form-urlencoded');
    expect(type.status).toBe(415);

    const missing = await fetch(`${base}/nothing-here`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: expect.any(String) });
  });

  it('logs in with a password and accepts the bearer token', async () => {
    const wrong = await post('/auth/login', JSON.stringify({ email: 'admin@api.test', password: 'nope-nope' }));
    expect(wrong.status).toBe(401);
    const ok = await post('/auth/login', JSON.stringify({ email: 'admin@api.test', password: 'admin-password' }));
    expect(ok.status).toBe(200);
    const { token } = (await ok.json()) as { token: string };
    const me = await fetch(`${base}/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(((await me.json()) as { user: { email: string } }).user.email).toBe('admin@api.test');
    expect((await fetch(`${base}/me`)).status).toBe(401);
    expect((await fetch(`${base}/me`, { headers: { authorization: 'Bearer pb_wrong' } })).status).toBe(401);
  });
});
