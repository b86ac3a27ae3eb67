/**
 * The web page in headless Chromium (Debian's, driven by playwright-core)
 * against a real `urna serve` on loopback: GET / leads to /web/; a counted,
 * a superseded and an overridden ballot show as such, with what the browser
 * proved; a made-up tracker and a bad one are refused; a receipt verifies
 * and a tampered one is refused; the page served from a static copy of the
 * tiles still verifies a receipt; Swedish and English; a phone-sized
 * viewport without horizontal scrolling; axe-core finds no WCAG 2.1 A/AA
 * violation in any state. Screenshots of each state go to test-results/web/.
 */
import { cp, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64, toHex } from '../../ledger/bytes.js';
import { leafHash } from '../../ledger/hash.js';
import {
  ED25519_TYPE,
  formatSignerKey,
  formatVerifierKey,
  generateSignerKey,
  parseVerifierKey,
} from '../../ledger/note.js';
import { ed25519 } from '../../ledger/ed25519.js';
import { DemoElection } from '../../services/cli/demo-plan.js';
import { writeWebFiles } from '../../services/web/build.js';
import { LogClient } from '../../verifier/client.js';
import { buildElection, type ElectionFixture } from '../helpers/election.js';
import { tempDir } from '../helpers/log.js';
import { waitUntil } from '../helpers/mirror.js';
import {
  startListening,
  runUrna,
  startServer,
  startThreeWitnesses,
  TEST_NODE_ENV,
  URNA_BIN,
  type ServerProcess,
} from '../helpers/process.js';
import { copyTiles, serveDir, serveEntries } from '../helpers/static-copy.js';
import { parseAlarm, verifySplitView } from '../../ledger/alarm.js';

const SHOTS = join(process.cwd(), 'test-results', 'web');
const AXE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

let dir: string;
let cleanup: () => Promise<void>;
let server: ServerProcess;
let browser: Browser;
let copy: { url: string; close(): Promise<void> };
let tampered: { url: string; close(): Promise<void> };
let live: { url: string; close(): Promise<void> };
let counter: ServerProcess;
let f: ElectionFixture;
/** A fork of the log: other entries, signed with the log's own key (what a compromised log shows some readers). */
let fork: { url: string; close(): Promise<void> };
let forkPage: { url: string; close(): Promise<void> };
let monitors: ServerProcess[] = [];
/** The log's key (so that the witnesses and the policy can name it before it starts). */
const LOG = generateSignerKey('web.example/log');
const witnesses: ServerProcess[] = [];
let policyText: string;
const trackers = { counted: '', superseded: '', overridden: '' };
const receipts: { [tracker: string]: string } = {};

beforeAll(async () => {
  ({ dir, cleanup } = await tempDir('urna-web-'));
  await mkdir(SHOTS, { recursive: true });
  f = buildElection({ id: 'web-2026', voters: 8 });
  const authority = formatVerifierKey('authority.example', ED25519_TYPE, fromBase64(f.authority.key));
  // Three witnesses, a 2-of-3 quorum: the page requires it of the checkpoints it proves under.
  await writeFile(join(dir, 'log.key'), LOG.signerKey + '\n', { mode: 0o600 });
  const three = await startThreeWitnesses(dir, LOG.verifierKey);
  witnesses.push(...three.witnesses);
  policyText = three.policy;
  await writeFile(join(dir, 'policy'), policyText);
  server = await startServer([
    ...['--data', join(dir, 'data'), '--key', join(dir, 'log.key'), '--authority', authority],
    ...['--witness-policy', join(dir, 'policy')],
  ]);
  const client = new LogClient(server.url, { logKey: server.verifierKey });
  for (const r of [f.election(), f.credentials(), f.phase('open')]) await client.submit(r);
  const [v0, v1, v2] = f.voters;
  const counted = f.ballot(v0!);
  const superseded = f.ballot(v1!);
  const overridden = f.ballot(v2!);
  for (const r of [counted, superseded, f.ballot(v1!), overridden, f.override(v2!)])
    receipts[toHex(leafHash(r))] = (await client.submit(r)).receipt;
  Object.assign(trackers, {
    counted: toHex(leafHash(counted)),
    superseded: toHex(leafHash(superseded)),
    overridden: toHex(leafHash(overridden)),
  });
  await waitUntil(
    async () => (await client.checkpoint()).checkpoint.size >= 9,
    'a checkpoint of size 9',
    10_000,
  );
  // A static copy: the tiles, and the page's files with a config pointing at them.
  const copyDir = join(dir, 'copy');
  await copyTiles(server.url, copyDir);
  await writeWebFiles(join(copyDir, 'web'), { log: '../', logKey: server.verifierKey });
  copy = await serveDir(copyDir);
  // The same copy with one byte of an entry changed in its bundle: what an audit must refuse.
  const tamperedDir = join(dir, 'tampered');
  await cp(copyDir, tamperedDir, { recursive: true });
  const bundles = join(tamperedDir, 'tile', 'entries');
  const bundle = join(
    bundles,
    (await readdir(bundles, { recursive: true })).find((f) => /\d$/.test(f))!,
  );
  const bytes = await readFile(bundle);
  bytes[Math.floor(bytes.length / 2)]! ^= 1;
  await writeFile(bundle, bytes);
  tampered = await serveDir(tamperedDir);

  // The count: voting closes, three reports, a counter on loopback; the page (a static copy of /web/ on
  // another origin) reads the live log and the counter, cross-origin.
  const r = f.reporters;
  for (const rec of [
    f.phase('close'),
    f.report('north-1', 'referendum', 'preliminary', { yes: 60, no: 40 }, { by: r.north }),
    f.report('north-1', 'referendum', 'final', { yes: 70, no: 40 }, { by: r.north }),
    f.report('south-1', 'referendum', 'preliminary', { yes: 10, no: 30 }, { by: r.south }),
  ])
    await client.submit(rec);
  counter = await startListening(
    [
      ...[URNA_BIN, 'count', '--log', server.url, '--log-key', server.verifierKey, '--election', 'web-2026'],
      ...['--listen', '127.0.0.1:0', '--interval', '1'],
    ],
    { ...TEST_NODE_ENV },
  );
  await waitUntil(
    async () => {
      const res = await fetch(`${counter.url}/latest.json`);
      return res.ok && ((await res.json()) as { log: { size: number } }).log.size >= 13;
    },
    'the counter at size 13',
    20_000,
  );
  // The fork: 20 other entries under the log's key. Monitors: one reading the log alone (no alarm), one
  // reading the log and the fork (a split view, proven from the fork's tiles).
  const signerKey = LOG.signerKey;
  fork = await serveEntries(
    Array.from({ length: 20 }, (_, i) => new TextEncoder().encode(`fork entry ${i}`)),
    signerKey,
  );
  const monitor = (sources: string[], name: string) =>
    startListening(
      [
        ...[URNA_BIN, 'monitor', '--log-key', server.verifierKey, '--data', join(dir, name)],
        ...sources.flatMap((u) => ['--source', u]),
        ...['--listen', '127.0.0.1:0', '--interval', '1'],
      ],
      { ...TEST_NODE_ENV },
    );
  monitors = [await monitor([server.url], 'honest'), await monitor([server.url, fork.url], 'alarmed')];
  await waitUntil(
    async () =>
      ((await (await fetch(`${monitors[1]!.url}/status`)).json()) as { alarms: unknown[] }).alarms.length > 0,
    'the alarm of the monitor that reads the fork',
    20_000,
  );
  const liveDir = join(dir, 'live');
  await writeWebFiles(join(liveDir, 'web'), {
    log: server.url,
    logKey: server.verifierKey,
    results: counter.url,
    monitors: monitors.map((m) => m.url),
    refreshSeconds: 1,
  });
  live = await serveDir(liveDir);
  // The page reading the fork (as a voter shown the fork would).
  const forkDir = join(dir, 'fork-page');
  await writeWebFiles(join(forkDir, 'web'), { log: fork.url, logKey: server.verifierKey });
  forkPage = await serveDir(forkDir);
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await live?.close();
  await forkPage?.close();
  for (const m of monitors) await m.stop();
  await fork?.close();
  await counter?.stop();
  await copy?.close();
  await tampered?.close();
  await server?.stop();
  for (const w of witnesses) await w.stop();
  await cleanup?.();
});

async function open(url: string, opts: { lang?: string; phone?: boolean } = {}): Promise<Page> {
  const context = await browser.newContext({
    bypassCSP: true, // axe-core is injected as an inline script; the page itself runs under its CSP
    locale: opts.lang ?? 'en-GB',
    ...(opts.phone ? { viewport: { width: 375, height: 740 }, isMobile: true, hasTouch: true } : {}),
  });
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
  return page;
}

/** axe-core's WCAG 2.1 A and AA violations on the page as it is. */
async function violations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: await readFile(AXE, 'utf8') });
  return page.evaluate(async () => {
    const axe = (
      globalThis as unknown as {
        axe: { run(o: object): Promise<{ violations: { id: string; help: string }[] }> };
      }
    ).axe;
    const r = await axe.run({
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    });
    return r.violations.map((v) => `${v.id}: ${v.help}`);
  });
}

/** Opens a receipt file for `tracker` (its own receipt unless `text`) and checks it; the verdict's text. */
async function checkReceipt(page: Page, tracker: string, text = receipts[tracker]!): Promise<string> {
  await page.setInputFiles('#receipt', {
    name: `${tracker}.receipt`,
    mimeType: 'text/plain',
    buffer: Buffer.from(text),
  });
  return check(page, '');
}

async function check(page: Page, tracker: string): Promise<string> {
  await page.fill('#tracker', tracker);
  await page.click('#ballot-form button');
  await page.waitForFunction(() => {
    const r = document.getElementById('ballot-result');
    return r !== null && (r.classList.contains('ok') || r.classList.contains('bad'));
  });
  await page.waitForSelector('#ballot-form button:not([disabled])');
  return (await page.textContent('#ballot-result')) ?? '';
}

describe('the web page', () => {
  it('is where GET / leads a browser, and shows the log', async () => {
    const page = await open(server.url);
    expect(new URL(page.url()).pathname).toBe('/web/');
    expect(await page.getAttribute('body', 'data-ed25519')).toBe('webcrypto'); // Chromium has WebCrypto Ed25519
    expect(await page.textContent('#log-facts')).toMatch(/Entries\s*\d+/);
    expect(await page.textContent('#log-facts')).toMatch(/Witnesses\s*w\d, w\d.*Witness quorum\s*met/s);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'start-en.png'), fullPage: true });
    await page.context().close();
  });

  it('shows a counted, a superseded and an overridden ballot, with what the browser proved', async () => {
    const page = await open(`${server.url}/web/`);
    const counted = await check(page, trackers.counted);
    expect(counted).toMatch(/Your ballot is in the log, and it is the one that counts/);
    expect(counted).toMatch(/Under the log's signed checkpoint of \d+ entries, cosigned by w\d, w\d/);
    expect(counted).toMatch(/Proven in this browser.*entry 4 of the log's tree/s);
    expect(counted).toMatch(/What the log says.*last ballot of its credential/s);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'counted.png'), fullPage: true });
    const superseded = await check(page, trackers.superseded);
    expect(superseded).toMatch(/a later ballot with the same credential counts instead/);
    expect(superseded).toMatch(/Entry 6 is a later ballot/);
    await page.screenshot({ path: join(SHOTS, 'superseded.png'), fullPage: true });
    const overridden = await check(page, trackers.overridden.toUpperCase());
    expect(overridden).toMatch(/you voted on paper/);
    expect(overridden).toMatch(/Entry 8 records that this credential voted on paper/);
    await page.screenshot({ path: join(SHOTS, 'overridden.png'), fullPage: true });
    await page.context().close();
  });

  it('refuses a made-up tracker and a malformed one', async () => {
    const page = await open(`${server.url}/web/`);
    const made = await check(page, 'ab'.repeat(32));
    expect(made).toMatch(/Not verified.*The log has no ballot with this tracker/s);
    expect(made).toMatch(/Technical detail.*no ballot with tracker abab/s);
    await page.screenshot({ path: join(SHOTS, 'not-found.png'), fullPage: true });
    expect(await check(page, 'not a tracker')).toMatch(/64 characters/);
    expect(await page.getAttribute('#tracker', 'aria-invalid')).toBe('true');
    expect(await violations(page)).toEqual([]);
    await page.context().close();
  });

  it('verifies a receipt file, and refuses one whose checkpoint was tampered with', async () => {
    const page = await open(`${server.url}/web/`);
    const t = trackers.counted;
    const verified = await checkReceipt(page, t);
    expect(verified).toMatch(/Your receipt proves that your ballot is entry 4 of the log/);
    // Issued at submission, before the witnesses cosigned; the cosigned latest extends it.
    expect(verified).toMatch(/extends the one your receipt was issued under.*cosigned by w\d, w\d/s);
    expect(verified).toMatch(
      /The log's latest checkpoint \(\d+ entries\) extends the one your receipt was issued under/,
    );
    const tampered = receipts[t]!.replace(/\n(\d+)\n/, (_m, n: string) => `\n${Number(n) + 1}\n`);
    expect(await checkReceipt(page, t, tampered)).toMatch(/Not verified/);
    await page.screenshot({ path: join(SHOTS, 'receipt-tampered.png'), fullPage: true });
    await page.context().close();
  });

  it('works from a static copy of the tiles', async () => {
    const page = await open(`${copy.url}/web/`);
    expect(await page.textContent('#log-facts')).toMatch(/Entries\s*9/);
    const t = trackers.superseded;
    expect(await checkReceipt(page, t)).toMatch(/entry 5 of the log/);
    // A tracker alone cannot be looked up in a copy without an index of ballots: the page says so.
    await page.setInputFiles('#receipt', []);
    expect(await check(page, t)).toMatch(
      /This copy of the log has no index of ballots.*open your receipt file/s,
    );
    await page.context().close();
  });

  it('speaks Swedish, and fits a phone without horizontal scrolling', async () => {
    const page = await open(`${server.url}/web/`, { lang: 'sv-SE', phone: true });
    expect(await page.getAttribute('html', 'lang')).toBe('sv');
    expect(await check(page, trackers.counted)).toMatch(/Din röst finns i loggen, och det är den som räknas/);
    expect(await check(page, 'cd'.repeat(32))).toMatch(/Loggen har ingen röst med den här spårkoden/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'phone-sv.png'), fullPage: true });
    // The language can be switched, and the choice is kept.
    await page.selectOption('#language', 'en');
    expect(await page.textContent('h1')).toBe('Urna — check the election');
    await page.context().close();
  });
});

describe('the audit in the browser', () => {
  async function audit(page: Page): Promise<string> {
    await page.click('#audit-start');
    await page.waitForSelector('#audit-result.ok, #audit-result.bad', { timeout: 30_000 });
    return (await page.textContent('#audit-result')) ?? '';
  }

  it('replays the whole log and says what it checked', async () => {
    const page = await open(`${server.url}/web/#log`);
    const text = await audit(page);
    expect(text).toMatch(/Verified in this browser: the log's \d+ entries replay to its signed root/);
    expect(text).toMatch(
      /Val till riksdagen 2026: voting has closed; 4 e-ballots from 3 voters, 1 paper-vote overrides, 3 reports, 0 tally records\./,
    );
    expect(text).toMatch(/8 discrepancies/);
    expect(await page.textContent('#audit-status')).toMatch(/entries replayed/);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'audit.png'), fullPage: true });
    await page.context().close();
  });

  it('refuses a static copy with a changed entry, naming it', async () => {
    const page = await open(`${tampered.url}/web/#log`);
    const text = await audit(page);
    expect(text).toMatch(/Not verified.*Replaying the log found an entry or a checkpoint that is not valid/s);
    expect(text).toMatch(/entry \d+ does not authenticate/);
    await page.screenshot({ path: join(SHOTS, 'audit-tampered.png'), fullPage: true });
    await page.context().close();
  });
});

describe('a forked log', () => {
  it('refuses a receipt the fork does not extend, and hands over the evidence, which proves the split view', async () => {
    const page = await open(`${forkPage.url}/web/`);
    const t = trackers.counted;
    const text = await checkReceipt(page, t);
    expect(text).toMatch(
      /Not verified.*checkpoint of 20 entries does not extend the one of \d+ entries you have/s,
    );
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'receipt-forked.png'), fullPage: true });
    // The evidence the page offers is an alarm file that proves the fork with the log key alone.
    const link = page.getByRole('link', { name: 'Download the evidence' });
    const alarm = await link.evaluate(async (a: HTMLAnchorElement) => (await fetch(a.href)).text());
    const [a, b] = verifySplitView(parseAlarm(alarm), parseVerifierKey(server.verifierKey));
    expect(b.size).toBe(20);
    expect(a.size).toBeLessThan(20);
    await page.context().close();
  });

  it("shows the monitors' word, and an alarm proven in the browser at the top of the page", async () => {
    const page = await open(`${live.url}/web/#log`);
    const text = (await page.textContent('#monitors')) ?? '';
    expect(text).toContain(`${monitors[0]!.url}: no alarm; it has followed the log to 13 entries`);
    expect(text).toMatch(
      /ALARM from http:\S+: the log has signed two histories .* \(13 and 20 entries\)\. Proven in this browser/,
    );
    expect(await page.textContent('#alarm-banner')).toMatch(/ALARM/);
    expect(await page.isVisible('#alarm-banner')).toBe(true);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'monitor-alarm.png'), fullPage: true });
    await page.context().close();
  });
});

describe('the results view', () => {
  it("shows the counter's figures, the discrepancies, and proves a report's record in the log", async () => {
    const page = await open(`${live.url}/web/#results`);
    const text = (await page.textContent('#results-body')) ?? '';
    expect(text).toMatch(/voting has closed\. Counted over the log's first \d+ entries/);
    expect(text).toMatch(/2 of 4 polling districts reported \(\d+\.\d% of the electorate\)/);
    expect(text).toMatch(/Provisional/);
    // Referendum, yes: preliminary 60 + 10, final 70, counted 70 + 10.
    const yes = await page.locator('tr', { hasText: 'Ja' }).first().textContent();
    expect(yes?.replace(/\s+/g, ' ')).toMatch(/Ja\s*70\s*70\s*80/);
    expect(text).toMatch(/Söder 1: no final report/);
    expect(text).toMatch(/Norr 2: no report/);
    await page
      .getByRole('button', { name: /Prove entry 11/ })
      .first()
      .click();
    await page.waitForFunction(() => document.getElementById('proof-result')?.textContent !== '');
    expect(await page.textContent('#proof-result')).toMatch(/Entry 11 \(a report record\) is in the log/);
    // The district tree: reporting progress per district, a polling district's reports with their records.
    const tree = page.locator('#results section', { hasText: 'Ja' }).locator('ul.districts');
    await tree.getByText('Sverige: 2 of 4 polling districts reported').click();
    await tree.getByText('Norr: 1 of 2 polling districts reported').click();
    expect(await tree.textContent()).toMatch(/Söder: 1 of 2 polling districts reported/);
    const north1 = (await tree.locator('li', { hasText: 'Norr 1' }).last().textContent()) ?? '';
    expect(north1).toMatch(/Preliminary: Ja 60, Nej 40, Blank 0, Invalid 0 Prove entry 10/);
    expect(north1).toMatch(/Final: Ja 70, Nej 40, Blank 0, Invalid 0 Prove entry 11/);
    expect(await tree.locator('li', { hasText: 'Norr 2' }).last().textContent()).toMatch(/no report yet/);
    // Live updates are on, and can be turned off (WCAG 2.2.2).
    expect(await page.isChecked('#live')).toBe(true);
    await page.getByLabel(/Update the results and the log automatically/).uncheck();
    expect(await page.isChecked('#live')).toBe(false);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'results.png'), fullPage: true });
    await page.context().close();
  });
});

describe('live updates', () => {
  it('show a new report without a reload, and stop when turned off', async () => {
    const page = await open(`${live.url}/web/#results`);
    const body = () => page.textContent('#results-body');
    expect(await body()).toMatch(/2 of 4 polling districts reported/);
    const client = new LogClient(server.url, { logKey: server.verifierKey });
    await client.submit(
      f.report('south-2', 'referendum', 'preliminary', { yes: 5, no: 5 }, { by: f.reporters.south }),
    );
    await page.waitForFunction(
      () =>
        /3 of 4 polling districts reported/.test(document.getElementById('results-body')?.textContent ?? ''),
      undefined,
      { timeout: 20_000 },
    );
    await page.getByLabel(/Update the results and the log automatically/).uncheck();
    await new Promise((r) => setTimeout(r, 1500)); // an update already under way ends
    const size = await page.textContent('#log-facts');
    await client.submit(
      f.report('north-2', 'referendum', 'preliminary', { yes: 1, no: 1 }, { by: f.reporters.north }),
    );
    await new Promise((r) => setTimeout(r, 4000)); // a checkpoint and a count later, the page has not moved
    expect(await page.textContent('#log-facts')).toBe(size);
    expect(await body()).toMatch(/3 of 4 polling districts reported/);
    await page.context().close();
  });
});

describe('/web/ over HTTP', () => {
  it('serves the config from the log’s key, and GET / stays a 404 for a client that is not a browser', async () => {
    const config = (await (await fetch(`${server.url}/web/config.json`)).json()) as {
      log: string;
      logKey: string;
    };
    expect(config).toEqual({ log: '../', logKey: server.verifierKey, witnessPolicy: policyText });
    const api = await fetch(`${server.url}/`, { headers: { Accept: 'application/json' } });
    expect(api.status).toBe(404);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('not_found');
    expect((await fetch(`${server.url}/web/nothing.js`)).status).toBe(404);
    const page = await fetch(`${server.url}/web/`);
    expect(page.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
  });
});

describe('a demo election (urna demo) with a counter', () => {
  it("shows a demo voter's counted, superseded and overridden ballots as the demo cast them, and the counter's final figures", async () => {
    const seed = new Uint8Array(32).fill(9);
    const authorityFile = join(dir, 'demo-authority.key');
    await writeFile(authorityFile, formatSignerKey('demo.example/authority', ED25519_TYPE, seed) + '\n', {
      mode: 0o600,
    });
    const vkey = formatVerifierKey('demo.example/authority', ED25519_TYPE, ed25519().publicKey(seed));
    const demoLog = await startServer(['--data', join(dir, 'demo-data'), '--authority', vkey]);
    let demoCounter: ServerProcess | undefined;
    try {
      const opts = { districts: 12, voters: 200 }; // enough for re-votes and paper votes at the demo's rates
      const run = await runUrna([
        ...['demo', '--authority-key', authorityFile, '--log', demoLog.url, '--log-key', demoLog.verifierKey],
        ...['--districts', String(opts.districts), '--voters', String(opts.voters), '--seed', 'web'],
      ]);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      // The demo's ground truth: who voted, re-voted, and voted on paper.
      const demo = new DemoElection({ seed: 'web', authority: seed, ...opts });
      const paper = new Set(demo.overriddenVoters());
      const revoters = demo.ballotVoters(2).filter((i) => !paper.has(i));
      const onPaper = demo.ballotVoters(1).filter((i) => paper.has(i));
      expect(revoters.length * onPaper.length).toBeGreaterThan(0);
      const tracker = (b: Uint8Array) => toHex(leafHash(b));
      const cases = {
        counted: tracker(demo.ballot(revoters[0]!, 2)),
        superseded: tracker(demo.ballot(revoters[0]!, 1)),
        overridden: tracker(
          demo.ballot(
            demo.ballotVoters(1).find((i) => paper.has(i))!,
            1,
          ),
        ),
      };
      demoCounter = await startListening(
        [
          ...[
            URNA_BIN,
            'count',
            '--log',
            demoLog.url,
            '--log-key',
            demoLog.verifierKey,
            '--election',
            demo.id,
          ],
          ...['--listen', '127.0.0.1:0', '--interval', '1'],
        ],
        { ...TEST_NODE_ENV },
      );
      const pageDir = join(dir, 'demo-page');
      await writeWebFiles(join(pageDir, 'web'), {
        log: demoLog.url,
        logKey: demoLog.verifierKey,
        results: demoCounter.url,
      });
      const site = await serveDir(pageDir);
      try {
        await waitUntil(
          async () => (await fetch(`${demoCounter!.url}/latest.json`)).ok,
          "the counter's first snapshot",
          20_000,
        );
        const page = await open(`${site.url}/web/`);
        expect(await check(page, cases.counted)).toMatch(/it is the one that counts/);
        expect(await check(page, cases.superseded)).toMatch(
          /a later ballot with the same credential counts instead/,
        );
        expect(await check(page, cases.overridden)).toMatch(/you voted on paper/);
        const results = (await page.textContent('#results-body')) ?? '';
        expect(results).toMatch(/final\. Counted over the log's first \d+ entries/);
        expect(results).toMatch(
          new RegExp(`E-ballots counted: ${demo.ballotVoters(1).filter((i) => !paper.has(i)).length}\\.`),
        );
        expect(await violations(page)).toEqual([]);
        await page.screenshot({ path: join(SHOTS, 'demo.png'), fullPage: true });
        await page.context().close();
      } finally {
        await site.close();
      }
    } finally {
      await demoCounter?.stop();
      await demoLog.stop();
    }
  }, 120_000);
});

describe('without the witness quorum', () => {
  it('refuses to prove a ballot under a checkpoint only one witness cosigned, and says so', async () => {
    await witnesses[1]!.stop();
    await witnesses[2]!.stop();
    const client = new LogClient(server.url, { logKey: server.verifierKey });
    await client.submit(
      f.report('north-2', 'riksdag', 'preliminary', { s: 1, m: 1, sd: 1, c: 1 }, { by: f.reporters.north }),
    );
    // Its receipt is under a new checkpoint, which only w0 can cosign now.
    const page = await open(`${server.url}/web/`);
    expect(await page.textContent('#log-facts')).toMatch(/Witness quorum\s*not met/);
    const text = await check(page, trackers.counted);
    expect(text).toMatch(/Not verified.*not cosigned by enough independent witnesses \(only w0\)/s);
    expect(await violations(page)).toEqual([]);
    await page.screenshot({ path: join(SHOTS, 'no-quorum.png'), fullPage: true });
    await page.context().close();
  });
});
