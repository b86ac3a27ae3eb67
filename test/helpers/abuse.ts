/**
 * Clients for the abuse suite and the faults benchmark: HTTP from a chosen
 * loopback address (so per-address limits tell attackers and legitimate
 * clients apart), half-sent requests, the records and proofs a flood sends,
 * and percentiles.
 */
import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { toBase64, utf8 } from '../../ledger/bytes.js';
import { signRecord } from '../../ledger/record.js';
import { testKey } from './election.js';

/** An HTTP client bound to one loopback address (keep-alive, up to `sockets` connections); status 0: no answer. */
export function clientFrom(localAddress: string, sockets = 16) {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets, localAddress } as ConstructorParameters<
    typeof Agent
  >[0]);
  const send = (url: string, method: string, body?: Uint8Array, timeoutMs = 30_000) =>
    new Promise<{ status: number; text: string }>((resolve) => {
      const req = request(url, {
        method,
        agent,
        headers: body ? { 'content-type': 'application/json', 'content-length': body.length } : {},
        timeout: timeoutMs,
      });
      req.on('response', (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => resolve({ status: 0, text: '' }));
      req.end(body ? Buffer.from(body) : undefined);
    });
  return { send, close: () => agent.destroy() };
}

/** A connection from `localAddress` that sends a POST's headers and a few bytes of its 60 KB body, then nothing. */
export function halfSent(port: number, localAddress: string): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect({ port, host: '127.0.0.1', localAddress }, () => {
      s.write(
        'POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: 60000\r\n\r\nslow',
      );
      resolve(s);
    });
    s.on('error', () => resolve(s));
  });
}

const stranger = testKey('stranger');

/**
 * The `i`th record of flooder `k`: rejected, alternately after decoding (a
 * signature that does not parse, 400) and by the rules (a well-signed phase
 * change of an election that does not exist, 404).
 */
export function rejectedRecord(election: string, k: number, i: number): Uint8Array {
  if (i % 2)
    return signRecord(
      { v: 1, type: 'phase', election: `nowhere-${k}-${i}`, body: { phase: 'open' } },
      stranger.seed,
    );
  const signer = toBase64(new Uint8Array(32));
  return utf8(
    `{"v":1,"type":"ballot","election":"${election}","body":{},"signer":"${signer}","sig":"x${i}"}`,
  );
}

/** A proof request at a random size of a tree of `size` entries: inclusion or consistency, alternately by `i`. */
export function randomProofPath(size: number, i: number): string {
  const n = 1 + Math.floor(Math.random() * size);
  return i % 2
    ? `proof/inclusion?index=${Math.floor(Math.random() * n)}&size=${n}`
    : `proof/consistency?from=${1 + Math.floor(Math.random() * n)}&to=${n}`;
}

/** The `p` percentile (0..1) of `values`. */
export function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
}
