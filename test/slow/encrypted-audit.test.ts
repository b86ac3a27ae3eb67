/**
 * The audit of an encrypted election, in the command line (`urna verify
 * audit`) and in the browser (the web page's audit in Debian's Chromium):
 * both accept the honest log (key ceremony, encrypted ballots with re-votes,
 * a spoiled ballot, a paper override, reports, two guardians' decryptions
 * with the third absent, the tally), and both refuse, naming the entry, a
 * log whose key signed what the rules refuse: a cheating guardian's
 * decryption, a ballot whose proofs fail, a spoiled ballot cast after all,
 * a tally whose e-votes are not the decryption's. Each log is a static copy
 * built in memory and signed with the log's key.
 */
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromBase64 } from '../../ledger/bytes.js';
import { decryptionBody } from '../../ledger/encrypted-election.js';
import { ED25519_TYPE, formatSignerKey, formatVerifierKey } from '../../ledger/note.js';
import { stateKey, type EncryptedSumState } from '../../ledger/rules.js';
import { webConfig, webFiles } from '../../services/web/build.js';
import { buildElection, logAt, TEST_LOG, type RecordLog } from '../helpers/election.js';
import { keyCeremony } from '../helpers/encrypted-election.js';
import { runUrna } from '../helpers/process.js';
import { editBody } from '../helpers/rule-cases.js';
import { serveEntries } from '../helpers/static-copy.js';

const f = buildElection({ id: 'audit-enc', voters: 12, guardians: { count: 3, quorum: 2 } });
const c = keyCeremony(f);
const signerKey = formatSignerKey(TEST_LOG.origin, ED25519_TYPE, TEST_LOG.signer.seed);
const logKey = formatVerifierKey(TEST_LOG.origin, ED25519_TYPE, fromBase64(TEST_LOG.signer.key));
const DISTRICTS = ['north-1', 'north-2', 'south-1', 'south-2'];
const sumsOf = (log: RecordLog, d: string) =>
  log.state.read(stateKey.encryptedSum(f.id, d)) as EncryptedSumState | undefined;

/** The honest night up to voting's close, the records after it, and the spoiled ballot's own bytes. */
function night() {
  const log = logAt(f, 'open');
  const parties = ['s', 'm', 'sd', 'c'];
  log.accept(
    ...f.voters.map((v, i) => c.ballot(v, { riksdag: { [parties[i % 4]!]: 1 }, referendum: { yes: 1 } })),
  );
  log.accept(c.ballot(f.voters[0]!, { riksdag: { c: 1 } })); // a re-vote
  const spoiled = c.spoil(f.voters[2]!, { riksdag: { sd: 1 }, referendum: { no: 1 } });
  log.accept(spoiled.spoiled);
  log.accept(f.override(f.voters[1]!));
  const beforeClose = log.size;
  log.accept(f.phase('close'));
  for (const d of DISTRICTS) log.accept(f.report(d, 'riksdag', 'final', { s: 20, m: 10, sd: 5, c: 5 }));
  for (const d of DISTRICTS) for (const g of [1, 3]) log.accept(c.decryption(g, d, sumsOf(log, d)!));
  return { log, beforeClose, spoiledBallot: spoiled.ballot };
}

const honest = night();
honest.log.accept(f.tally(honest.log));

/** The lies: each a list of entries the rules refuse at `at`, and what the refusal says. */
function lies(): Array<{ name: string; entries: Uint8Array[]; at: number; why: RegExp }> {
  const { log, beforeClose, spoiledBallot } = night();
  const records = log.records;
  const sums = sumsOf(log, 'south-2')!;
  const sealed = Object.fromEntries(Object.entries(sums.contests).map(([k, x]) => [k, x.sum]));
  const cheat = c.decryption(
    2,
    'south-2',
    sums,
    decryptionBody(2, c.keyShare(2) + 1n, 'south-2', sums.changed, sealed, c.hash),
  );
  const forged = editBody(c.ballot(f.voters[5]!), f.voters[5]!.seed, (body) => {
    const [first, second] = (
      body as { encrypted: Array<{ options: Array<{ alpha: string; beta: string }> }> }
    ).encrypted[0]!.options;
    first!.beta = second!.alpha;
  });
  const wrongTally = f.tally(log, {
    edit: (b) => {
      b.contests.riksdag!.eballots.decrypted!.votes.s! += 1;
      b.contests.riksdag!.counted.votes.s! += 1;
    },
  });
  const before = records.slice(0, beforeClose);
  return [
    {
      name: "a cheating guardian's decryption",
      entries: [...records, cheat],
      at: records.length,
      why: /guardian 2/,
    },
    {
      name: 'a ballot whose proofs fail',
      entries: [...before, forged],
      at: beforeClose,
      why: /invalid_proof/,
    },
    {
      name: 'a spoiled ballot cast',
      entries: [...before, spoiledBallot],
      at: beforeClose,
      why: /spoiled_ballot/,
    },
    {
      name: 'a tally with other e-votes',
      entries: [...records, wrongTally],
      at: records.length,
      why: /wrong_tally/,
    },
  ];
}

describe('urna verify audit of an encrypted election', () => {
  async function audit(entries: readonly Uint8Array[]) {
    const source = await serveEntries(entries, signerKey);
    try {
      return await runUrna(['verify', 'audit', '--log', source.url, '--log-key', logKey]);
    } finally {
      await source.close();
    }
  }

  it('accepts the honest log: every proof, decryption and the tally with the e-votes', async () => {
    const r = await audit(honest.log.records);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toMatch(/election audit-enc .*1 tally records/);
  });

  it.each(lies())('refuses $name, naming its entry (exit 1)', async ({ entries, at, why }) => {
    const r = await audit(entries);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stdout).toMatch(new RegExp(`^not verified: entry ${at} \\(`));
    expect(r.stdout).toMatch(why);
  });
});

describe('the audit of an encrypted election in the browser', () => {
  let browser: Browser;
  let pageFiles: (path: string) => { type: string; body: Uint8Array | string } | null;

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
    const files = new Map(await webFiles());
    files.set('config.json', webConfig({ log: '../', logKey }));
    pageFiles = (path) =>
      path.startsWith('web/') ? (files.get(path.slice(4) || 'index.html') ?? null) : null;
  }, 60_000);
  afterAll(() => browser?.close());

  async function auditIn(entries: readonly Uint8Array[]): Promise<string> {
    const source = await serveEntries(entries, signerKey, (path) => pageFiles(path));
    try {
      const page: Page = await (await browser.newContext()).newPage();
      await page.goto(`${source.url}/web/#log`);
      await page.waitForSelector('body[data-ready="true"]', { timeout: 20_000 });
      await page.click('#audit-start');
      await page.waitForSelector('#audit-result.ok, #audit-result.bad', { timeout: 60_000 });
      const text = (await page.textContent('#audit-result')) ?? '';
      await page.context().close();
      return text;
    } finally {
      await source.close();
    }
  }

  it('accepts the honest log', async () => {
    const text = await auditIn(honest.log.records);
    expect(text).toMatch(/Verified in this browser: the log's \d+ entries replay to its signed root/);
  });

  it("refuses a cheating guardian's decryption and a tally with other e-votes, naming the entry", async () => {
    for (const lie of lies().filter((l) => /guardian|tally/.test(l.name))) {
      const text = await auditIn(lie.entries);
      expect(text, lie.name).toMatch(/Not verified/);
      expect(text, lie.name).toMatch(new RegExp(`entry ${lie.at}\\b`));
    }
  });
});
