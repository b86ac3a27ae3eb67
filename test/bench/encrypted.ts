/**
 * Encrypted ballots (`npm run bench -- encrypted`; issue 14, the
 * cryptography so far): a ballot of 3 contests of 8 options each (one
 * vote per contest) encrypted and proven (ledger/encrypted-contest.ts) in
 * Node and in Debian's headless Chromium, and its proofs verified one
 * ballot at a time and in batches, beside the limit measured in the same
 * run: raw ristretto255 scalar multiplications per second, on one core and
 * on all cores. From the batch rate, the time a 1,000,000-ballot audit
 * would take on all cores (URNA_BENCH_ENCRYPTED_BALLOTS ballots are
 * verified, default 24). Then URNA_BENCH_ENCRYPTED_RECORDS (default 400)
 * encrypted ballot records admitted by `urna serve` end to end and audited.
 */
import { build } from 'esbuild';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { utf8 } from '../../ledger/bytes.js';
import { verifyRange, verifyRangeBatch, type RangeProof, type RangeStatement } from '../../ledger/elgamal.js';
import {
  contestStatements,
  encryptContest,
  type ContestShape,
  type EncryptedContest,
} from '../../ledger/encrypted-contest.js';
import { decodeElement, encodeElement, G, hashToScalar, mul } from '../../ledger/group.js';
import { hash } from '../../ledger/hash.js';
import { ristrettoMultRate } from './limits.js';
import type { Report } from './report.js';
import { setEd25519Backend } from '../../ledger/ed25519.js';
import { fromBase64 } from '../../ledger/bytes.js';
import { formatVerifierKey } from '../../ledger/note.js';
import { RecordPool } from '../../services/crypto/record-pool.js';
import { nativeEd25519 } from '../../services/crypto/native-ed25519.js';
import { LogReader } from '../../verifier/reader.js';
import { Replayer } from '../../verifier/replayer.js';
import { buildElection } from '../helpers/election.js';
import { keyCeremony } from '../helpers/encrypted-election.js';
import { tempDir } from '../helpers/log.js';
import { runUrna, startServer } from '../helpers/process.js';

const SHAPES: ContestShape[] = ['riksdag', 'region', 'kommun'].map((id) => ({
  id,
  options: Array.from({ length: 8 }, (_, i) => `o${i}`),
  optionLimit: 1,
  selectionLimit: 1,
}));
const KEY = mul(G, hashToScalar('bench/key', [utf8('election key')]));
const ELECTION = hash(utf8('bench election'));

function encryptBallot(voter: number): EncryptedContest[] {
  const credential = hash(utf8(`bench voter ${voter}`));
  return SHAPES.map(
    (shape, c) =>
      encryptContest(shape, { [`o${(voter + c) % 8}`]: 1 }, KEY, { election: ELECTION, credential })
        .encrypted,
  );
}

/** A contest with its elements as bytes (the scalars as they are: decoding those is cheap), and back. */
type WireProof = { commitments: Uint8Array[]; challenges: bigint[]; responses: bigint[] };
type WireContest = {
  contest: string;
  options: Array<{ option: string; ct: Uint8Array[]; proof: WireProof }>;
  sum: WireProof;
};
function toWire(c: EncryptedContest): WireContest {
  const proof = (p: RangeProof): WireProof => ({ ...p, commitments: p.commitments.map(encodeElement) });
  return {
    contest: c.contest,
    options: c.options.map((o) => ({
      option: o.option,
      ct: [o.ciphertext.alpha, o.ciphertext.beta].map(encodeElement),
      proof: proof(o.proof),
    })),
    sum: proof(c.sumProof),
  };
}
function fromWire(w: WireContest): EncryptedContest {
  const proof = (p: WireProof): RangeProof => ({
    ...p,
    commitments: p.commitments.map((b) => decodeElement(b)),
  });
  return {
    contest: w.contest,
    options: w.options.map((o) => ({
      option: o.option,
      ciphertext: { alpha: decodeElement(o.ct[0]!), beta: decodeElement(o.ct[1]!) },
      proof: proof(o.proof),
    })),
    sumProof: proof(w.sum),
  };
}

function statementsOf(voter: number, ballot: EncryptedContest[]): RangeStatement[] {
  const credential = hash(utf8(`bench voter ${voter}`));
  return ballot.flatMap((enc, c) =>
    contestStatements(SHAPES[c]!, enc, KEY, { election: ELECTION, credential })!,
  );
}

/**
 * Encrypted ballot records (3 contests × 8 options) admitted by `urna serve`
 * end to end (HTTP, decoding and signature, the proofs on the worker pool in
 * batches, the rules, fsync, receipts), then audited: by `urna verify audit`
 * (the proofs of a chunk verified at once on the worker pool, all cores), and
 * in this process one by one by the rules on one core.
 */
async function benchRecords(
  report: Report,
  n: number,
  multsAll: number,
  multsPerBallot: number,
): Promise<void> {
  setEd25519Backend(nativeEd25519);
  const f = buildElection({ id: 'bench-enc', voters: n, guardians: { count: 3, quorum: 2 } });
  f.body.contests = SHAPES.map((shape) => ({
    id: shape.id,
    title: shape.id,
    options: shape.options.map((o) => ({ id: o, title: o })),
    seats: 10,
    method: { name: 'sainte-lague', firstDivisor: 1.2 },
  }));
  const c = keyCeremony(f);
  let t0 = performance.now();
  const ballots = f.voters.map((v, i) =>
    c.ballot(v, Object.fromEntries(SHAPES.map((shape, k) => [shape.id, { [`o${(i + k) % 8}`]: 1 }]))),
  );
  report(
    '  (setup) encrypted ballot records',
    n,
    'records',
    `made in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
  const authority = formatVerifierKey('bench-authority', 0x01, fromBase64(f.authority.key));
  const { dir, cleanup } = await tempDir('urna-bench-encrypted-');
  const server = await startServer(['--data', dir, '--authority', authority]);
  try {
    const post = async (bytes: Uint8Array) => {
      const res = await fetch(`${server.url}/add`, {
        method: 'POST',
        body: Buffer.from(bytes),
        headers: { 'content-type': 'application/json' },
      });
      if (res.status !== 201) throw new Error(`record rejected: ${res.status} ${await res.text()}`);
    };
    await post(f.election());
    for (let i = 0; i < n; i += 400) await post(f.credentials(f.voters.slice(i, i + 400)));
    for (const r of c.records()) await post(r);
    await post(f.phase('open'));
    let next = 0;
    t0 = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < ballots.length) await post(ballots[next++]!);
      }),
    );
    const admitted = n / ((performance.now() - t0) / 1000);
    const allowed = multsAll / multsPerBallot;
    report(
      'encrypted ballots admitted end to end',
      admitted,
      'ballot/s',
      `${n} ballots, 64 in flight, fsync on; ${(admitted / allowed).toFixed(2)}x the ${allowed.toFixed(1)}/s the raw mults on all cores allow one by one (goal 0.5)`,
    );

    t0 = performance.now();
    const audit = await runUrna(['verify', 'audit', '--log', server.url, '--log-key', server.verifierKey]);
    if (audit.code !== 0) throw new Error(`the audit failed: ${audit.stdout}${audit.stderr}`);
    const batched = n / ((performance.now() - t0) / 1000);
    report('audit (urna verify audit), batches on the pool', batched, 'ballot/s', 'all cores, the whole log');
    const one = new Replayer({
      logKey: server.verifierKey,
      prove: async (items) => items.map(() => undefined as never),
    });
    t0 = performance.now();
    await one.catchUp(new LogReader(server.url, { logKey: server.verifierKey }));
    const single = n / ((performance.now() - t0) / 1000);
    report(
      'audit one by one by the rules, 1 core',
      single,
      'ballot/s',
      `batches on all cores: ${(batched / single).toFixed(1)}x`,
    );
    const pool = new RecordPool();
    try {
      const inline = new Replayer({ logKey: server.verifierKey, decode: pool.replayWork().decode });
      t0 = performance.now();
      await inline.catchUp(new LogReader(server.url, { logKey: server.verifierKey }));
      const rate = n / ((performance.now() - t0) / 1000);
      report(
        'audit in batches inline, 1 core (as the browser)',
        rate,
        'ballot/s',
        `${(rate / single).toFixed(1)}x one by one`,
      );
      report(
        '1,000,000-ballot audit, estimated end to end',
        1_000_000 / batched / 3600,
        'h',
        "from urna verify audit's rate",
      );
    } finally {
      await pool.close();
    }
  } finally {
    await server.kill();
    await cleanup();
  }
}

export async function benchEncrypted(
  report: Report,
  opts: { ballots: number; records: number },
): Promise<void> {
  const cores = availableParallelism();
  const one = await ristrettoMultRate(2000, 1);
  const all = await ristrettoMultRate(2000, cores);
  report('limit: ristretto255 scalar mult, 1 core', one, 'mult/s');
  report('limit: ristretto255 scalar mult, all cores', all, 'mult/s', `${cores} cores`);

  // Encrypt and prove in Node.
  encryptBallot(0); // warm-up
  let t0 = performance.now();
  const ballots = Array.from({ length: opts.ballots }, (_, i) => encryptBallot(i));
  const proveMs = (performance.now() - t0) / opts.ballots;
  report('encrypt and prove one 3×8 ballot, Node', proveMs, 'ms', `${opts.ballots} ballots`);

  // Verify one by one (every equation of every proof on its own: verifyRange), then all in one batch;
  // each from the ballots' bytes, as a verifier gets them (decoding every element is part of the cost).
  const wire = ballots.map((b) => b.map(toWire));
  const decoded = () => wire.map((b) => b.map(fromWire));
  t0 = performance.now();
  let statements = decoded().map((b, i) => statementsOf(i, b));
  for (const list of statements)
    for (const s of list)
      if (!verifyRange(s.ct, s.proof, s.limit, s.key, s.ctx))
        throw new Error('a bench ballot did not verify');
  const singleRate = opts.ballots / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  statements = decoded().map((b, i) => statementsOf(i, b));
  const verdicts = verifyRangeBatch(statements.flat());
  const batchRate = opts.ballots / ((performance.now() - t0) / 1000);
  if (!verdicts.every(Boolean)) throw new Error('a bench ballot did not verify');
  const multsPerBallot = one / singleRate;
  report(
    'verify one by one, 1 core',
    singleRate,
    'ballot/s',
    `about ${multsPerBallot.toFixed(0)} mults' worth each`,
  );
  report(
    `verify in a batch of ${opts.ballots}, 1 core`,
    batchRate,
    'ballot/s',
    `${(batchRate / singleRate).toFixed(1)}x one by one (goal 5x)`,
  );
  const hours = 1_000_000 / (batchRate * cores) / 3600;
  report('1,000,000-ballot audit, estimated', hours, 'h', `batches on ${cores} cores, from the rate above`);

  // Encrypt and prove in Chromium: the same code, bundled for the browser.
  const entry = fileURLToPath(new URL('../../ledger/encrypted-contest.ts', import.meta.url));
  const bundle = await build({
    stdin: {
      contents: `
        import { encryptContest } from ${JSON.stringify(entry)};
        import { G, hashToScalar, mul } from ${JSON.stringify(entry.replace('encrypted-contest', 'group'))};
        import { utf8 } from ${JSON.stringify(entry.replace('encrypted-contest', 'bytes'))};
        globalThis.encryptBallot = () => {
          const key = mul(G, hashToScalar('bench/key', [utf8('election key')]));
          const ballot = { election: new Uint8Array(32), credential: new Uint8Array(32).fill(1) };
          const start = performance.now();
          for (const id of ['riksdag', 'region', 'kommun'])
            encryptContest({ id, options: ['o0','o1','o2','o3','o4','o5','o6','o7'], optionLimit: 1, selectionLimit: 1 }, { o3: 1 }, key, ballot);
          return performance.now() - start;
        };`,
      resolveDir: fileURLToPath(new URL('.', import.meta.url)),
      loader: 'ts',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  });
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  try {
    const page = await browser.newPage();
    await page.addScriptTag({ content: bundle.outputFiles[0]!.text });
    await page.evaluate(() => (globalThis as unknown as { encryptBallot(): number }).encryptBallot()); // warm-up
    const times: number[] = [];
    for (let i = 0; i < 5; i++)
      times.push(
        await page.evaluate(() => (globalThis as unknown as { encryptBallot(): number }).encryptBallot()),
      );
    times.sort((a, b) => a - b);
    report('encrypt and prove one 3×8 ballot, Chromium', times[2]!, 'ms', 'median of 5; goal under 1,000 ms');
  } finally {
    await browser.close();
  }
  if (opts.records > 0) await benchRecords(report, opts.records, all, multsPerBallot);
}
