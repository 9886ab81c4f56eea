import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext } from 'playwright-core';
import { spawnRiskfuse, type RiskfuseProcess } from '../../../test/support/riskfuse-process.js';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Skips outside CI when Debian's `chromium` is missing (with a note); in CI (`CI` set) the suite must run, so a
 * missing browser fails it at launch — the same rule as the InfluxDB suites (test/support/influxd.ts).
 */
export function requireChromiumOrSkip(): boolean {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.CI !== undefined && process.env.CI !== '') return false;
  console.warn('chromium not found: dashboard e2e test skipped (install Debian package `chromium`)');
  return true;
}

/** `riskfuse start` (broker, ingest, scoring, credit monitor, API, demo world) and headless Chromium. */
export interface Platform {
  readonly proc: RiskfuseProcess;
  readonly browser: Browser;
  readonly apiUrl: string;
  readonly adminKey: string;
  /** The API with a key (the admin's by default): the test's source of truth for what a page shows. */
  api<T>(path: string, init?: { method?: string; body?: unknown; key?: string }): Promise<T>;
  /** A browser context logged in with `key` (in sessionStorage, as the login page stores it), en-US. */
  loggedIn(key: string): Promise<BrowserContext>;
  close(): Promise<void>;
}

export async function startPlatform(env: Record<string, string> = {}): Promise<Platform> {
  const dir = mkdtempSync(join(tmpdir(), 'rf-dash-'));
  const proc = spawnRiskfuse(['start'], {
    DATA_DIR: dir,
    MQTT_PORT: '0',
    MQTT_HOST: '127.0.0.1',
    API_PORT: '0',
    API_HOST: '127.0.0.1',
    ...env,
  });
  await proc.waitFor(/Ctrl-C to stop\./, 60_000);
  const apiUrl = /API\s+(http:\/\/127\.0\.0\.1:\d+)\/v1 · docs/.exec(proc.output())?.[1] ?? '';
  const adminKey = /admin key \(shown once, store it now\): (rfk_\S+)/.exec(proc.output())?.[1] ?? '';
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  const api = async <T>(path: string, init: { method?: string; body?: unknown; key?: string } = {}) => {
    const res = await fetch(`${apiUrl}${path}`, {
      method: init.method ?? 'GET',
      headers: {
        authorization: `Bearer ${init.key ?? adminKey}`,
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
    });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  return {
    proc,
    browser,
    apiUrl,
    adminKey,
    api,
    async loggedIn(key) {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'en-US' });
      await context.addInitScript(`sessionStorage.setItem('riskfuse.apiKey', ${JSON.stringify(key)})`);
      return context;
    },
    async close() {
      await browser.close();
      await proc.kill('SIGINT');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
