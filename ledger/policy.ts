/**
 * Transparency log trust policies, C2SP tlog-policy
 * (https://c2sp.org/tlog-policy): the logs a verifier accepts, the
 * witnesses it knows, and the quorum of cosignatures a checkpoint needs.
 * Parsed strictly: every deviation from the spec is a PolicyError naming
 * its line.
 *
 * §Structure: lines end in a newline; items are separated by spaces and
 * tabs only; empty lines and `#` comments are ignored. §Character set: the
 * only control characters allowed are tab and newline. A group or the
 * quorum may refer only to names defined on earlier lines (so no cycles);
 * witnesses and groups share one namespace, in which `none` is predefined
 * (valid as the quorum, not as a member); each name is a member of a group
 * at most once; duplicate logs or witnesses (the same public key) are
 * refused; exactly one quorum line.
 */
import { equalBytes } from './bytes.js';
import { openCheckpoint, type Checkpoint } from './checkpoint.js';
import { MalformedError } from './errors.js';
import { COSIGNATURE_TYPE, ED25519_TYPE, parseVerifierKey, type NoteVerifier } from './note.js';

/** A verifier key of a policy, with its public key and the URL the line gave, if any. */
export interface PolicyKey {
  verifier: NoteVerifier & { publicKey: Uint8Array; type: number };
  url: string | null;
}

/** A group: witnessed when at least `threshold` of its members are. */
export interface PolicyGroup {
  threshold: number;
  members: string[];
}

export interface Policy {
  logs: PolicyKey[];
  /** Witnesses by policy name. */
  witnesses: Map<string, PolicyKey>;
  /** Groups by policy name. */
  groups: Map<string, PolicyGroup>;
  /** The name of the witness or group whose witnessing makes a checkpoint valid, or `none`. */
  quorum: string;
}

/** A policy file that does not follow the spec; `line` is 1-based. */
export class PolicyError extends MalformedError {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`policy line ${line}: ${message}`);
  }
}

/** Limits beyond the spec's recommended minimum of 32 each (§Implementation limits). */
export const POLICY_LIMITS = Object.freeze({ logs: 256, witnesses: 256, groups: 256 });

/** Parses a policy file. Throws PolicyError (a MalformedError) naming the first line that is wrong. */
export function parsePolicy(text: string): Policy {
  const policy: Policy = { logs: [], witnesses: new Map(), groups: new Map(), quorum: '' };
  let quorumLine = 0;
  // §Character set: tab, newline, 0x20-0x7E, and anything with the high bit set.
  // eslint-disable-next-line no-control-regex -- the control characters the spec forbids
  const bad = /[\u0000-\u0008\u000b-\u001f\u007f]/.exec(text);
  if (bad) {
    const line = text.slice(0, bad.index).split('\n').length;
    throw new PolicyError(line, `control character 0x${bad[0].charCodeAt(0).toString(16).padStart(2, '0')}`);
  }
  const lines = text.split('\n');
  const last = lines.pop();
  if (last !== '') throw new PolicyError(lines.length + 1, 'the last line does not end in a newline');
  const defined = (name: string) => name === 'none' || policy.witnesses.has(name) || policy.groups.has(name);
  const key = (n: number, text: string, type: number, what: string) => {
    let verifier;
    try {
      verifier = parseVerifierKey(text);
    } catch (e) {
      throw new PolicyError(n, `${what} key: ${(e as Error).message}`);
    }
    if (verifier.type !== type)
      throw new PolicyError(
        n,
        `${what} key of signature type 0x${verifier.type.toString(16).padStart(2, '0')}, expected 0x0${type}`,
      );
    return verifier;
  };
  const url = (n: number, text: string | undefined) => {
    if (text === undefined) return null;
    try {
      new URL(text);
    } catch {
      throw new PolicyError(n, `not a URL: ${text}`);
    }
    return text;
  };
  for (const [i, raw] of lines.entries()) {
    const n = i + 1;
    const words = raw.split(/[ \t]+/).filter((w) => w !== '');
    if (words.length === 0 || words[0]!.startsWith('#')) continue;
    const [keyword, ...args] = words as [string, ...string[]];
    switch (keyword) {
      case 'log': {
        if (args.length < 1 || args.length > 2) throw new PolicyError(n, 'expected: log <vkey> [<url>]');
        const verifier = key(n, args[0]!, ED25519_TYPE, 'log');
        if (policy.logs.some((l) => equalBytes(l.verifier.publicKey, verifier.publicKey)))
          throw new PolicyError(n, 'a log listed twice (the same public key)');
        if (policy.logs.length >= POLICY_LIMITS.logs)
          throw new PolicyError(n, `more than ${POLICY_LIMITS.logs} logs`);
        policy.logs.push({ verifier, url: url(n, args[1]) });
        break;
      }
      case 'witness': {
        if (args.length < 2 || args.length > 3)
          throw new PolicyError(n, 'expected: witness <name> <vkey> [<url>]');
        const name = args[0]!;
        if (defined(name)) throw new PolicyError(n, `the name ${name} is already defined`);
        const verifier = key(n, args[1]!, COSIGNATURE_TYPE, 'witness');
        for (const w of policy.witnesses.values())
          if (equalBytes(w.verifier.publicKey, verifier.publicKey))
            throw new PolicyError(n, 'a witness listed twice (the same public key)');
        if (policy.witnesses.size >= POLICY_LIMITS.witnesses)
          throw new PolicyError(n, `more than ${POLICY_LIMITS.witnesses} witnesses`);
        policy.witnesses.set(name, { verifier, url: url(n, args[2]) });
        break;
      }
      case 'group': {
        if (args.length < 3) throw new PolicyError(n, 'expected: group <name> all|any|<k> <name>...');
        const [name, k, ...members] = args as [string, string, ...string[]];
        if (defined(name)) throw new PolicyError(n, `the name ${name} is already defined`);
        const seen = new Set<string>();
        for (const m of members) {
          if (m === 'none') throw new PolicyError(n, 'none cannot be a group member');
          if (!defined(m)) throw new PolicyError(n, `${m} is not defined on an earlier line`);
          if (seen.has(m)) throw new PolicyError(n, `${m} is listed twice`);
          seen.add(m);
        }
        let threshold: number;
        if (k === 'all') threshold = members.length;
        else if (k === 'any') threshold = 1;
        else if (/^[1-9][0-9]{0,8}$/.test(k) && Number(k) <= members.length) threshold = Number(k);
        else
          throw new PolicyError(
            n,
            `threshold ${k}: expected all, any or a decimal k with 1 <= k <= ${members.length}`,
          );
        if (policy.groups.size >= POLICY_LIMITS.groups)
          throw new PolicyError(n, `more than ${POLICY_LIMITS.groups} groups`);
        policy.groups.set(name, { threshold, members });
        break;
      }
      case 'quorum': {
        if (args.length !== 1) throw new PolicyError(n, 'expected: quorum <name>');
        if (quorumLine) throw new PolicyError(n, `a second quorum line (the first is line ${quorumLine})`);
        if (!defined(args[0]!)) throw new PolicyError(n, `${args[0]} is not defined on an earlier line`);
        policy.quorum = args[0]!;
        quorumLine = n;
        break;
      }
      default:
        throw new PolicyError(
          n,
          `unknown line type ${JSON.stringify(keyword)} (log, witness, group, quorum)`,
        );
    }
  }
  if (!quorumLine) throw new PolicyError(lines.length, 'no quorum line');
  return policy;
}

/** Whether the witnesses named in `cosigned` (policy names) satisfy the policy's quorum. */
export function quorumSatisfied(policy: Policy, cosigned: ReadonlySet<string>): boolean {
  const witnessed = (name: string): boolean => {
    if (name === 'none') return true;
    if (policy.witnesses.has(name)) return cosigned.has(name);
    const group = policy.groups.get(name)!;
    return group.members.filter(witnessed).length >= group.threshold;
  };
  return witnessed(policy.quorum);
}

/** The policy's witness verifiers, each with its policy name. */
export function witnessVerifiers(policy: Policy): { name: string; verifier: NoteVerifier }[] {
  return [...policy.witnesses].map(([name, w]) => ({ name, verifier: w.verifier }));
}

/** A checkpoint verified under a policy: which of its witnesses cosigned it, and whether they make its quorum. */
export interface PolicyVerdict {
  checkpoint: Checkpoint;
  /** Policy names of the witnesses whose cosignature verified. */
  cosigned: string[];
  quorum: boolean;
}

/**
 * Verifies a signed checkpoint under `policy`: it must be signed by the
 * policy's log of its origin (else UnverifiedNoteError, or MalformedError
 * for an origin the policy lists no log for); each witness cosignature is
 * verified (signatures by unknown keys are ignored) and the quorum
 * evaluated. A cosignature by a known key that does not verify throws
 * SignatureError, as signed notes require.
 */
export function verifyCheckpointPolicy(note: string, policy: Policy): PolicyVerdict {
  const origin = note.slice(0, Math.max(0, note.indexOf('\n')));
  const log = policy.logs.find((l) => l.verifier.name === origin);
  if (!log) throw new MalformedError(`the policy lists no log for the origin ${JSON.stringify(origin)}`);
  const witnesses = witnessVerifiers(policy);
  const { checkpoint, note: opened } = openCheckpoint(
    note,
    log.verifier,
    witnesses.map((w) => w.verifier),
  );
  const cosigned = witnesses
    .filter((w) =>
      opened.verified.some((s) => s.name === w.verifier.name && equalBytes(s.keyId, w.verifier.keyId)),
    )
    .map((w) => w.name);
  return { checkpoint, cosigned, quorum: quorumSatisfied(policy, new Set(cosigned)) };
}
