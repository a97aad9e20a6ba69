import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { startHarness, waitFor, type Harness } from '../support/harness.ts';

/**
 * An operator's retry, done the way an operator does it: in Bull Board, in a real browser.
 * A Chromium on this machine (Debian's, not a Playwright download: this machine and CI reach no
 * browser CDN), driven by playwright-core. Without one the file is skipped with one line saying
 * so, so `npm test` passes on a bare machine; under CI (`CI` set, as .ci/run does, which also
 * installs Chromium) a missing browser fails instead: a skipped test would pass CI without ever
 * having looked at the board.
 */
const CHROMIUM = findChromium();
const REQUIRE_BROWSER = Boolean(process.env.CI);
if (!CHROMIUM && !REQUIRE_BROWSER)
  console.log(
    '[bull-board browser test] skipped: no Chromium found (CHROMIUM_PATH, /usr/bin/chromium, chromium-browser, google-chrome); install one with "apt-get install -y chromium"',
  );
// Without the last three, Chromium keeps trying to reach Google's services, and on a closed
// network those attempts flood the host.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const ADMIN = { username: 'ops', password: 'board-test-password' };
// A key of its own on each try: vitest retries a failed test under CI, and a retry must not find
// the first try's delivery already succeeded.
let KEY = '';

let h: Harness;
let apiUrl: string;
let browser: Browser;
const screenshots = mkdtempSync(join(tmpdir(), 'trackline-board-'));

function findChromium(): string | undefined {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((path): path is string => Boolean(path) && existsSync(path!));
}

async function newPage(credentials?: typeof ADMIN) {
  const context = await browser.newContext({ httpCredentials: credentials, viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  // The board's stylesheet names a web font host; nothing outside this machine is reachable, so
  // such requests fail at once instead of waiting out a timeout.
  await page.route(/^https?:\/\/(?!127\.0\.0\.1[:/])/, (route) => route.abort());
  return page;
}

describe.skipIf(!CHROMIUM && !REQUIRE_BROWSER)('Bull Board in a browser', () => {
  beforeAll(async () => {
    if (!CHROMIUM) {
      throw new Error(
        'CI is set and no Chromium is installed (CHROMIUM_PATH, /usr/bin/chromium, chromium-browser, google-chrome): install it with "apt-get update && apt-get install -y chromium" (.ci/run does this)',
      );
    }
    [h, browser] = await Promise.all([
      startHarness('bull_board', { config: { admin: ADMIN } }),
      chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS }),
    ]);
    apiUrl = await h.listenApi();
  });
  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('answers 401 without credentials', async () => {
    const page = await newPage();
    // Headless Chromium has nobody to show the login prompt to, so it abandons the navigation
    // (ERR_INVALID_AUTH_CREDENTIALS); the server's answer is read from the response event.
    const answered = page.waitForResponse((r) => r.url() === `${apiUrl}/admin/queues`);
    await page.goto(`${apiUrl}/admin/queues`).catch(() => undefined);
    const response = await answered;
    expect(response.status()).toBe(401);
    expect(await response.headerValue('www-authenticate')).toBe('Basic realm="Trackline admin", charset="UTF-8"');
    await page.context().close();
  });

  it('a reconcile that failed for good is retried from the board: the item syncs and its delivery row follows', async () => {
    KEY = `board/retry-me-${Date.now()}`;
    // A 422 is permanent: the job fails at once, for good, and the mapping shows the error.
    h.sandbox.faults.inject({ tracker: 'plane', method: 'POST', pathIncludes: '/work-items/', status: 422, times: 1 });
    expect(
      (await h.postEvents({ type: 'item.upserted', item: { key: KEY, title: 'Retried from Bull Board', state: 'doing' } })).status,
    ).toBe(202);
    const failed = await waitFor(async () => {
      const [row] = await h.sql<{ id: string; job_id: string; status: string; attempts: number }[]>`
        select id, job_id, status, attempts from deliveries where kind = 'reconcile' and item_key = ${KEY} and status = 'failed'`;
      return row;
    });
    expect(failed.attempts).toBe(1);
    expect(await itemStatus()).toBe('error');

    const page = await newPage(ADMIN);
    await page.goto(`${apiUrl}/admin/queues`);
    // Find it as an operator would: the reconcile queue, its failed jobs, the job by its name.
    await page.getByRole('complementary').getByRole('link', { name: 'reconcile', exact: true }).click();
    await page
      .getByRole('main')
      .getByRole('link', { name: /^FAILED/ })
      .click();
    const jobName = `plane-main ${KEY}`;
    const card = page
      .locator('[class*="card-"]')
      .filter({ has: page.getByRole('link', { name: new RegExp(`#${failed.job_id}\\s*${escapeRegExp(jobName)}`) }) });
    await expect.poll(() => card.count(), { timeout: 10_000 }).toBe(1);
    await card.getByText('answered 422').first().waitFor();
    // The job's log names the failed attempt's delivery row (for GET /v1/deliveries/{id}) and why it failed.
    await card.getByRole('tab', { name: 'Logs' }).click();
    await card.getByText(`attempt 1 failed: delivery ${failed.id}: `).waitFor();
    await page.screenshot({ path: join(screenshots, '1-failed-job.png'), fullPage: true });

    // The card's retry action (the circular-arrows button; its label is a tooltip).
    await card.locator('[class*="jobActions"] button:has(svg.lucide-refresh-cw)').click();
    const confirm = page.getByRole('alertdialog', { name: 'Are you sure?' });
    await expect.poll(() => confirm.getByRole('paragraph').textContent()).toBe('Are you sure that you want to retry this job?');
    await confirm.getByRole('button', { name: 'Confirm' }).click();

    const synced = await waitFor(async () => ((await itemStatus()) === 'synced' ? true : null), 10_000);
    expect(synced).toBe(true);
    // The same delivery row (dedup key job:<id>) records the new attempt and its success.
    // (written just after the mapping, so wait for it rather than race it)
    const rows = await waitFor(async () => {
      const r = await h.sql<{ status: string; attempts: number; last_error: string | null }[]>`
        select status, attempts, last_error from deliveries where dedup_key = ${`job:${failed.job_id}`}`;
      return r[0]?.status === 'succeeded' ? r : null;
    });
    expect(rows).toEqual([{ status: 'succeeded', attempts: 2, last_error: null }]);
    // The processor writes the row before it returns; the queue marks the job completed just after
    // (a separate write, later still on the PostgreSQL backend), so wait for it rather than race it.
    await expect.poll(() => h.runtime.queues.reconcile.getJobState(failed.job_id), { timeout: 10_000 }).toBe('completed');
    // The board shows the failed list empty again.
    await expect.poll(() => card.count(), { timeout: 10_000 }).toBe(0);
    await page.screenshot({ path: join(screenshots, '2-after-retry.png'), fullPage: true });
    console.info(`bull-board screenshots: ${screenshots}`);
    await page.context().close();
  });
});

async function itemStatus(): Promise<string | undefined> {
  const res = await h.api('GET', `/v1/items/${encodeURIComponent(KEY)}`);
  if (res.status !== 200) return undefined;
  const item = (await res.json()) as { connections: { status: string }[] };
  return item.connections[0]?.status;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
