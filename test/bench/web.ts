/**
 * The web page (`npm run bench -- web`): how long the page takes, in
 * Debian's headless Chromium, to verify one ballot tracker against a log of
 * about 1,000,000 records (the count bench's Sweden-sized night,
 * URNA_BENCH_WEB_VOTERS voters, default 1,058,000; goal under 1 s), and how
 * many requests it makes. The log is served on loopback as a log answers a
 * browser: checkpoint, tiles and entry bundles, `GET /ballots/<tracker>`
 * from the state a replay of the night rebuilt, and the page with its
 * config.json. Each check runs in a fresh browser context (no cache), timed
 * from the button press to the verdict on the page, for a counted, a
 * superseded and an overridden ballot near the end of the log, and once more
 * for the counted one with WebCrypto's Ed25519 hidden (the @noble fallback).
 * Beside it, the limits of the same run in the same page: one fetch round
 * trip to the log, and one Ed25519 verify (WebCrypto, the page's backend).
 * Then the audit in the page over a smaller night (URNA_BENCH_WEB_AUDIT_VOTERS
 * voters, default 20,000), beside WebCrypto's verify rate in the page.
 */
import { chromium, type Browser } from 'playwright-core';
import { ballotStatus, type BallotState } from '../../ledger/rules.js';
import { webConfig, webFiles, type WebFile } from '../../services/web/build.js';
import type { Replayer } from '../../verifier/replayer.js';
import { serveEntries } from '../helpers/static-copy.js';
import { decodeUnsigned, LOG, night, replayAll } from './count.js';
import type { Report } from './report.js';

/** The page's files under `web/`, with a config.json for the log it is served beside (null for other paths). */
async function pageFiles(): Promise<(path: string) => WebFile | null> {
  const files = new Map(await webFiles());
  files.set('config.json', webConfig({ log: '../', logKey: LOG.verifierKey }));
  return (path) => (path.startsWith('web/') ? (files.get(path.slice(4) || 'index.html') ?? null) : null);
}

/** The last ballot of each status in the replayed state, by tracker. */
function pickTrackers(replayer: Replayer): { [status: string]: string } {
  const picked: { [status: string]: { tracker: string; index: number } } = {};
  for (const [key, value] of replayer.state.entries()) {
    if (!key.startsWith('ballot/')) continue;
    const tracker = key.slice('ballot/'.length);
    const status = ballotStatus(replayer.state.read, tracker)!.status;
    const { index } = value as BallotState;
    if (index > (picked[status]?.index ?? -1)) picked[status] = { tracker, index };
  }
  return Object.fromEntries(Object.entries(picked).map(([s, p]) => [s, p.tracker]));
}

export async function benchWeb(report: Report, opts: { voters: number; auditVoters: number }): Promise<void> {
  const { entries, ms } = await night(opts.voters);
  report(
    'web: log records',
    entries.length,
    'records',
    ms ? `generated in ${(ms / 1000).toFixed(0)} s` : 'cached',
  );
  // The log's index of ballots: the state of a replay without signature checks (the night is the bench's own).
  const { replayer } = await replayAll(entries, decodeUnsigned);
  const trackers = pickTrackers(replayer);
  const page = await pageFiles();
  const copy = await serveEntries(entries, LOG.signerKey, (path) => {
    if (path.startsWith('ballots/')) {
      const status = /^[0-9a-f]{64}$/.test(path.slice(8)) && ballotStatus(replayer.state.read, path.slice(8));
      return status ? { type: 'application/json', body: JSON.stringify(status) } : null;
    }
    return page(path);
  });
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    const runs = [
      ['included', 'webcrypto'],
      ['superseded', 'webcrypto'],
      ['overridden', 'webcrypto'],
      ['included', 'noble'],
    ] as const;
    for (const [status, backend] of runs) {
      const tracker = trackers[status];
      if (!tracker) continue;
      const context = await browser.newContext();
      const page = await context.newPage();
      // The @noble fallback, as on a browser without WebCrypto Ed25519: its key import refuses the algorithm.
      if (backend === 'noble')
        await page.addInitScript(() => {
          const importKey = crypto.subtle.importKey.bind(crypto.subtle);
          crypto.subtle.importKey = ((...args: Parameters<SubtleCrypto['importKey']>) =>
            JSON.stringify(args[2]).includes('Ed25519')
              ? Promise.reject(new DOMException('not supported', 'NotSupportedError'))
              : importKey(...args)) as SubtleCrypto['importKey'];
        });
      await page.goto(`${copy.url}/web/`);
      await page.waitForSelector('body[data-ready="true"]');
      const used = await page.getAttribute('body', 'data-ed25519');
      if (used !== backend) throw new Error(`the page checked signatures with ${used}, not ${backend}`);
      if (status === 'included' && backend === 'webcrypto') {
        const limits = await page.evaluate(async (log) => {
          const t0 = performance.now();
          await (await fetch(`${log}/checkpoint`, { cache: 'no-store' })).text();
          const fetchMs = performance.now() - t0;
          const key = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
          const data = new Uint8Array(200);
          const sig = await crypto.subtle.sign({ name: 'Ed25519' }, key.privateKey, data);
          const t1 = performance.now();
          for (let i = 0; i < 100; i++)
            await crypto.subtle.verify({ name: 'Ed25519' }, key.publicKey, sig, data);
          return { fetchMs, verifyMs: (performance.now() - t1) / 100 };
        }, copy.url);
        report('limit: one fetch from the page', limits.fetchMs, 'ms');
        report('limit: one WebCrypto ed25519 verify', limits.verifyMs, 'ms');
      }
      let requests = 0;
      page.on('request', () => requests++);
      await page.fill('#tracker', tracker);
      const t0 = performance.now();
      await page.click('#ballot-form button[type="submit"]');
      await page.waitForSelector('#ballot-result.ok, #ballot-result.bad');
      const took = performance.now() - t0;
      const ok = await page.$('#ballot-result.ok');
      if (!ok)
        throw new Error(
          `the page did not verify the ${status} ballot ${tracker}: ${await page.textContent('#ballot-result')}`,
        );
      report(
        `web: one ${status} tracker, ${backend}`,
        took,
        'ms',
        `${requests} requests, ${entries.length.toLocaleString('en-US')} records; goal under 1,000 ms`,
      );
      await context.close();
    }
    await benchBrowserAudit(report, browser, opts.auditVoters);
  } finally {
    await browser?.close();
    await copy.close();
  }
}

/**
 * The audit in the page (its "Audit the whole log" button: verifier/audit.ts
 * with each chunk's signatures verified together by WebCrypto) over a static
 * copy of a smaller night, beside one WebCrypto verify in the same page.
 */
async function benchBrowserAudit(report: Report, browser: Browser, voters: number): Promise<void> {
  const { entries } = await night(voters);
  const copy = await serveEntries(entries, LOG.signerKey, await pageFiles());
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(`${copy.url}/web/`);
    await page.waitForSelector('body[data-ready="true"]');
    const verifyRate = await page.evaluate(async () => {
      const key = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
      const data = new Uint8Array(200);
      const sig = await crypto.subtle.sign({ name: 'Ed25519' }, key.privateKey, data);
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: 4000 }, () =>
          crypto.subtle.verify({ name: 'Ed25519' }, key.publicKey, sig, data),
        ),
      );
      return 4000 / ((performance.now() - t0) / 1000);
    });
    report('limit: WebCrypto ed25519 verify in the page', verifyRate, 'verify/s', '4,000 at once');
    const t0 = performance.now();
    await page.click('#audit-start');
    await page.waitForSelector('#audit-result.ok, #audit-result.bad', { timeout: 30 * 60_000 });
    const s = (performance.now() - t0) / 1000;
    if (!(await page.$('#audit-result.ok')))
      throw new Error(`the audit in the page failed: ${await page.textContent('#audit-result')}`);
    const rate = entries.length / s;
    report(
      `web: audit in the page, ${entries.length.toLocaleString('en-US')} records`,
      rate,
      'records/s',
      `${(rate / verifyRate).toFixed(2)} of WebCrypto verify; ${s.toFixed(1)} s, ${copy.requests()} requests`,
    );
  } finally {
    await context.close();
    await copy.close();
  }
}
