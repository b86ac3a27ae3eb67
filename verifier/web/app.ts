/**
 * The web page (verifier/web): a voter checks a ballot tracker or a receipt
 * file, and anyone sees the log's latest checkpoint and its witnesses, all
 * verified in this browser with the verifier library (verifier/verify.ts)
 * from whatever source serves the log's tiles. Its configuration is
 * `config.json` beside the page: the log's URL (relative to the page), its
 * verifier key and, optionally, the witness policy (C2SP tlog-policy text)
 * and where the counter's results are (results.ts shows them).
 * Every text is in strings.ts.
 */
import { verifiedAhead } from '../../ledger/ed25519.js';
import { MalformedError } from '../../ledger/errors.js';
import { formatAlarm, parseAlarm, verifySplitView } from '../../ledger/alarm.js';
import { parseVerifierKey } from '../../ledger/note.js';
import { parsePolicy } from '../../ledger/policy.js';
import { toBase64 } from '../../ledger/bytes.js';
import { auditLog } from '../audit.js';
import { decodeVerifiedAhead, usePlatformEd25519 } from '../platform-ed25519.js';
import { LogError } from '../client.js';
import { LogReader } from '../reader.js';
import {
  NotVerifiedError,
  trackerSubject,
  verifyBallot,
  verifiedCheckpoint,
  verifyReceiptAgainstLog,
  type Reason,
  type ReceiptVerdict,
  verifyReceiptOffline,
  type BallotVerdict,
  type CheckpointVerdict,
  type Trust,
} from '../verify.js';
import { decodeRecord } from '../../ledger/record.js';
import type { ResultSnapshot } from '../snapshot.js';
import type { PageConfig } from './config.js';
import { renderResults } from './results.js';
import { LANGUAGES, STRINGS, type Language, type Strings } from './strings.js';

let t: Strings = STRINGS.sv;

function pickLanguage(): Language {
  const saved = localStorage.getItem('urna.language');
  if (saved && (LANGUAGES as readonly string[]).includes(saved)) return saved as Language;
  return navigator.language.toLowerCase().startsWith('sv') ? 'sv' : 'en';
}

function applyLanguage(lang: Language): void {
  t = STRINGS[lang];
  document.documentElement.lang = lang;
  document.title = t.title;
  for (const el of document.querySelectorAll<HTMLElement>('[data-text]')) {
    const v = t[el.dataset.text as keyof Strings];
    if (typeof v === 'string') el.textContent = v;
  }
  for (const el of document.querySelectorAll<HTMLElement>('[data-label]')) {
    const v = t[el.dataset.label as keyof Strings];
    if (typeof v === 'string') el.setAttribute('aria-label', v);
  }
}

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  text?: string,
  cls?: string,
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function list(heading: string, items: string[]): HTMLElement[] {
  if (items.length === 0) return [];
  const ul = el('ul');
  for (const i of items) ul.append(el('li', i));
  return [el('h3', heading), ul];
}

function checkpointLine(cp: CheckpointVerdict): string {
  return t.checkpointLine(cp.checkpoint.size, cp.quorum ? t.cosignedBy(cp.cosigned.join(', ')) : '');
}

function showResult(ok: boolean, parts: HTMLElement[]): void {
  const box = document.getElementById('ballot-result')!;
  box.className = `result ${ok ? 'ok' : 'bad'}`;
  box.replaceChildren(...parts);
}

function ballotParts(v: BallotVerdict): HTMLElement[] {
  const headline = {
    included: t.resultIncluded,
    superseded: t.resultSuperseded,
    overridden: t.resultOverridden,
    unknown: t.resultUnknown,
  }[v.status];
  const proven = [t.provenEntry(v.index, v.checkpoint.checkpoint.size)];
  if (v.evidence.later !== undefined) proven.push(t.provenLater(v.evidence.later));
  if (v.evidence.override !== undefined) proven.push(t.provenOverride(v.evidence.override));
  const claimed = v.status === 'included' ? [t.claimedLast] : [];
  return [
    el('p', headline, 'headline'),
    el('p', checkpointLine(v.checkpoint)),
    ...list(t.provenHeading, proven),
    ...list(t.claimedHeading, claimed),
  ];
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `url` (relative to the page) as a folder's URL, ending in `/`, for the files under it. */
function folder(url: string): string {
  return new URL(url, location.href).href.replace(/\/?$/, '/');
}

/** A link that saves `text` as a file named `name` (an alarm's evidence). */
function download(name: string, text: string, label: string): HTMLElement {
  const a = el('a', label);
  a.href = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  a.download = name;
  const p = el('p');
  p.append(a);
  return p;
}

/** Why a check failed, in the reader's language, with the verifier's own words under "Technical detail". */
function failure(e: unknown): HTMLElement[] {
  const why = messageOf(e);
  if (!(e instanceof NotVerifiedError)) {
    return [
      el('p', t.notVerified, 'headline'),
      el('p', e instanceof MalformedError ? why : t.unreachable(why)),
    ];
  }
  const detail = el('details');
  detail.append(el('summary', t.technical), el('p', why, 'mono'));
  const reason = (t.reasons[e.reason.code] as (r: Reason) => string)(e.reason);
  return [
    el('p', t.notVerified, 'headline'),
    el('p', reason),
    ...(e.evidence ? [download('split-view.alarm', formatAlarm(e.evidence), t.downloadEvidence)] : []),
    detail,
  ];
}

async function checkBallot(reader: LogReader, trust: Trust): Promise<void> {
  const input = document.getElementById('tracker') as HTMLInputElement;
  const file = (document.getElementById('receipt') as HTMLInputElement).files?.[0];
  const button = document.querySelector<HTMLButtonElement>('#ballot-form button')!;
  let tracker = input.value.trim().toLowerCase();
  if (!tracker && file) tracker = /([0-9a-f]{64})\.receipt$/i.exec(file.name)?.[1]?.toLowerCase() ?? '';
  if (!/^[0-9a-f]{64}$/.test(tracker)) {
    input.setAttribute('aria-invalid', 'true');
    showResult(false, [el('p', t.notVerified, 'headline'), el('p', t.badTracker)]);
    input.focus();
    return;
  }
  input.removeAttribute('aria-invalid');
  button.disabled = true;
  button.textContent = t.checking;
  try {
    if (file) {
      const text = await file.text();
      // Against the log: its latest checkpoint must extend the receipt's, and the quorum must have
      // cosigned one of them. If the log cannot be reached, the receipt alone is enough only when the
      // witnesses had cosigned its checkpoint.
      const subject = trackerSubject(tracker);
      let v: ReceiptVerdict;
      let now: string;
      try {
        const against = await awaitingQuorum(() => verifyReceiptAgainstLog(reader, text, subject, trust));
        v = against;
        now =
          t.receiptConsistent(against.latest.checkpoint.size) +
          (against.latest.quorum ? ` ${checkpointLine(against.latest)}` : '');
      } catch (e) {
        if (!(e instanceof LogError)) throw e;
        v = await verifiedAhead(() => verifyReceiptOffline(text, subject, trust));
        now = t.receiptNotCompared(e.message);
      }
      showResult(true, [
        el('p', t.resultReceipt(v.index), 'headline'),
        el('p', checkpointLine(v.checkpoint)),
        el('p', now),
      ]);
    } else {
      const checkpoint = await awaitingQuorum(() => verifiedCheckpoint(reader, trust));
      showResult(true, ballotParts(await verifyBallot(reader, tracker, trust, { checkpoint })));
    }
  } catch (e) {
    showResult(false, failure(e));
  } finally {
    button.disabled = false;
    button.textContent = t.check;
  }
}

async function showLog(reader: LogReader, trust: Trust): Promise<void> {
  const facts = document.getElementById('log-facts')!;
  const row = (term: string, value: string, mono = false) => [
    el('dt', term),
    el('dd', value, mono ? 'mono' : ''),
  ];
  try {
    const v = await verifiedCheckpoint(reader, trust, false);
    const age =
      v.newestCosignature === null
        ? t.none
        : t.secondsAgo(Math.max(0, Math.round(Date.now() / 1000 - v.newestCosignature)));
    facts.replaceChildren(
      ...row(t.logSize, String(v.checkpoint.size)),
      ...row(t.logRoot, toBase64(v.checkpoint.root), true),
      ...row(t.logWitnesses, v.quorum === null ? t.noPolicy : v.cosigned.join(', ') || t.none),
      ...(v.quorum === null ? [] : row(t.logQuorum, v.quorum ? t.quorumMet : t.quorumNotMet)),
      ...(v.quorum === null ? [] : row(t.logAge, age)),
    );
  } catch (e) {
    facts.replaceChildren(...row(t.notVerified, messageOf(e)));
  }
}

/** What a monitor's `GET /status` says (services/monitor/monitor.ts MonitorStatus), as far as the page reads it. */
interface MonitorView {
  largest: { size: number } | null;
  quorum: { stale: boolean } | null;
  alarms: Array<{ at: string; text: string }>;
}

/**
 * Each configured monitor's word on the log, and each alarm it raised,
 * whose evidence is checked here with the log key alone (ledger/alarm.ts):
 * a proven one is shown as an alert at the top of the page too.
 */
async function showMonitors(config: PageConfig): Promise<void> {
  const box = document.getElementById('monitors')!;
  const banner = document.getElementById('alarm-banner')!;
  if (!config.monitors?.length) return box.replaceChildren();
  const logKey = parseVerifierKey(config.logKey.trim());
  const items: HTMLElement[] = [];
  const alerts: HTMLElement[] = [];
  await Promise.all(
    config.monitors.map(async (url, i) => {
      const lines: HTMLElement[] = [];
      try {
        const res = await fetch(new URL('status', folder(url)), {
          cache: 'no-cache',
        });
        if (!res.ok) throw new Error(`HTTP ${res.status}`);
        const status = (await res.json()) as MonitorView;
        for (const [j, alarm] of status.alarms.entries()) {
          try {
            const [a, b] = await verifiedAhead(() => verifySplitView(parseAlarm(alarm.text), logKey));
            const text = t.alarmProven(url, a.size, b.size);
            lines.push(
              el('p', text, 'alarm'),
              download(`split-view-${i + 1}-${j + 1}.alarm`, alarm.text, t.downloadEvidence),
            );
            alerts.push(el('p', text));
          } catch (e) {
            lines.push(el('p', t.alarmUnproven(url, messageOf(e))));
          }
        }
        if (status.alarms.length === 0) lines.push(el('p', t.monitorOk(url, status.largest?.size ?? null)));
        if (status.quorum?.stale) lines.push(el('p', t.monitorStale(url)));
      } catch (e) {
        lines.push(el('p', t.monitorUnreachable(url, messageOf(e))));
      }
      const li = el('li');
      li.append(...lines);
      items[i] = li;
    }),
  );
  const ul = el('ul');
  ul.append(...items);
  box.replaceChildren(el('h3', t.monitorsHeading), ul);
  banner.replaceChildren(...alerts);
  banner.hidden = alerts.length === 0;
}

/**
 * Runs `check` again, a few times a second apart, while it fails for want
 * of the witness quorum: a log serves a new checkpoint while its witnesses
 * are still cosigning it (they take a moment).
 */
async function awaitingQuorum<T>(check: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await check();
    } catch (e) {
      if (!(e instanceof NotVerifiedError && e.reason.code === 'no_quorum') || attempt >= 4) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** Thrown from the audit's progress callback to stop it. */
class Stopped extends Error {}

/**
 * Audits the whole log in the browser (verifier/audit.ts auditLog, with
 * the signatures of each chunk verified together by WebCrypto where the
 * platform has it), with a progress bar, its rate and what is left, and a
 * Stop button. Progress is announced at most every few seconds.
 */
async function runAudit(reader: LogReader, trust: Trust): Promise<void> {
  const start = document.getElementById('audit-start') as HTMLButtonElement;
  const stop = document.getElementById('audit-stop') as HTMLButtonElement;
  const bar = document.getElementById('audit-progress') as HTMLProgressElement;
  const status = document.getElementById('audit-status')!;
  const box = document.getElementById('audit-result')!;
  let stopping = false;
  const onStop = () => (stopping = true);
  stop.addEventListener('click', onStop);
  start.disabled = true;
  stop.hidden = false;
  bar.hidden = false;
  box.className = 'result';
  box.replaceChildren();
  const began = performance.now();
  let announced = 0;
  let done = 0;
  try {
    const report = await auditLog(reader, trust, {
      decode: decodeVerifiedAhead,
      onProgress: (size, of) => {
        if (stopping) throw new Stopped();
        done = size;
        bar.max = Math.max(1, of);
        bar.value = size;
        const now = performance.now();
        if (now - announced > 3000 || size === of) {
          announced = now;
          const rate = size / Math.max(0.001, (now - began) / 1000);
          status.textContent = t.auditProgress(
            size,
            of,
            Math.round(rate),
            t.duration((of - size) / Math.max(1, rate)),
          );
        }
      },
    });
    box.className = 'result ok';
    box.replaceChildren(
      el('p', t.auditVerified(report.log.size), 'headline'),
      ...report.elections.flatMap((e) => [
        el(
          'p',
          t.auditElection(
            e.title,
            t.phaseNames[e.phase] ?? e.phase,
            e.counts.ballots,
            e.counts.voters,
            e.counts.overrides,
            e.counts.reports,
            e.counts.tallies,
          ),
        ),
        ...(e.discrepancies.length ? [el('p', t.auditDiscrepancies(e.discrepancies.length))] : []),
      ]),
    );
  } catch (e) {
    if (e instanceof Stopped) status.textContent = t.auditStopped(done);
    else {
      box.className = 'result bad';
      box.replaceChildren(...failure(e));
    }
  } finally {
    stop.removeEventListener('click', onStop);
    stop.hidden = true;
    start.disabled = false;
  }
}

/** Proves that entry `index` is in the log, under the latest checkpoint, and says so in `#proof-result`. */
async function proveEntry(reader: LogReader, trust: Trust, index: number): Promise<void> {
  const box = document.getElementById('proof-result')!;
  try {
    const cp = await verifiedCheckpoint(reader, trust, false);
    const entry = await reader.entry(index, cp.head);
    const { record } = await verifiedAhead(() => decodeRecord(entry));
    box.className = 'result ok';
    box.replaceChildren(el('p', t.proven(index, record.type, cp.checkpoint.size), 'headline'));
  } catch (e) {
    box.className = 'result bad';
    box.replaceChildren(...failure(e));
  }
}

/** The snapshot shown (its log size and root), so that a live update that brings nothing new re-renders nothing. */
let shownSnapshot = '';

/** Shows the counter's newest snapshot; with `onlyIfNew`, leaves the view (and the districts opened) as it is unless the snapshot changed. */
async function showResults(
  config: PageConfig,
  reader: LogReader,
  trust: Trust,
  onlyIfNew = false,
): Promise<void> {
  const body = document.getElementById('results-body')!;
  if (!config.results) {
    body.replaceChildren(el('p', t.noResults));
    return;
  }
  try {
    const url = new URL('latest.json', folder(config.results));
    const res = await fetch(url, { cache: 'no-cache' });
    if (!res.ok) throw new Error(`${url.href}: HTTP ${res.status}`);
    const snap = (await res.json()) as ResultSnapshot;
    const key = `${snap.log.size}:${snap.log.root}`;
    if (onlyIfNew && key === shownSnapshot) return;
    shownSnapshot = key;
    renderResults(body, snap, t, el, (index) => void proveEntry(reader, trust, index));
  } catch (e) {
    body.replaceChildren(el('p', t.unreachable(messageOf(e))));
  }
}

async function main(): Promise<void> {
  const select = document.getElementById('language') as HTMLSelectElement;
  for (const l of LANGUAGES) select.append(new Option(STRINGS[l].languageName, l));
  const lang = pickLanguage();
  select.value = lang;
  applyLanguage(lang);
  // Which Ed25519 checks the signatures (for a look under the hood, and the web bench).
  document.body.dataset.ed25519 = (await usePlatformEd25519()) ? 'webcrypto' : 'noble';
  const config = (await (await fetch(new URL('config.json', location.href))).json()) as PageConfig;
  const trust: Trust = {
    logKey: config.logKey,
    ...(config.witnessPolicy ? { policy: parsePolicy(config.witnessPolicy) } : {}),
  };
  const reader = new LogReader(new URL(config.log, location.href).href.replace(/\/$/, ''), {
    logKey: config.logKey,
  });
  select.addEventListener('change', () => {
    localStorage.setItem('urna.language', select.value);
    applyLanguage(select.value as Language);
    void showLog(reader, trust);
    void showMonitors(config);
    void showResults(config, reader, trust);
  });
  document.getElementById('ballot-form')!.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void checkBallot(reader, trust);
  });
  document.getElementById('log-refresh')!.addEventListener('click', () => {
    void showLog(reader, trust);
    void showMonitors(config);
  });
  document.getElementById('audit-start')!.addEventListener('click', () => void runAudit(reader, trust));
  document
    .getElementById('results-refresh')!
    .addEventListener('click', () => void showResults(config, reader, trust));
  // Live updates (WCAG 2.2.2: the reader can stop them): the results, the log and the monitors.
  const live = document.getElementById('live') as HTMLInputElement;
  const every = Math.max(1, config.refreshSeconds ?? 30);
  setInterval(() => {
    if (!live.checked || document.hidden) return;
    void showResults(config, reader, trust, true);
    void showLog(reader, trust);
    void showMonitors(config);
  }, every * 1000);
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('tracker');
  if (fromHash) (document.getElementById('tracker') as HTMLInputElement).value = fromHash;
  await Promise.all([showLog(reader, trust), showMonitors(config), showResults(config, reader, trust)]);
  document.body.dataset.ready = 'true';
}

void main();
