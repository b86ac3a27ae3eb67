/**
 * C2SP tlog-policy: the spec's example with real keys, quorum evaluation
 * over every subset of its witnesses against a direct reading of the rule,
 * every kind of malformed file refused with its line, and checkpoints
 * verified under a policy.
 */
import { describe, expect, it } from 'vitest';
import { signCheckpoint } from '../../ledger/checkpoint.js';
import { generateCosignerKey, parseCosignerKey } from '../../ledger/cosignature.js';
import { generateSignerKey, parseSignerKey, signNote } from '../../ledger/note.js';
import { parsePolicy, PolicyError, quorumSatisfied, verifyCheckpointPolicy } from '../../ledger/policy.js';

const log = generateSignerKey('policy.example/log');
const w = Object.fromEntries(
  ['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3'].map((n) => [
    n,
    generateCosignerKey(`${n.toLowerCase()}.example/witness`),
  ]),
);

const EXAMPLE = `log ${log.verifierKey} https://policy.example/log

witness X1 ${w.X1!.verifierKey}
witness X2 ${w.X2!.verifierKey}
\twitness X3 ${w.X3!.verifierKey} https://x3.example/
group X-witnesses 2 X1 X2 X3
# the Y organisation
witness Y1 ${w.Y1!.verifierKey}
witness Y2 ${w.Y2!.verifierKey}
witness Y3 ${w.Y3!.verifierKey}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
`;

describe('parsePolicy', () => {
  it('reads the spec example: logs, witnesses, groups and the quorum', () => {
    const p = parsePolicy(EXAMPLE);
    expect(p.logs.map((l) => [l.verifier.name, l.url])).toEqual([
      ['policy.example/log', 'https://policy.example/log'],
    ]);
    expect([...p.witnesses.keys()]).toEqual(['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3']);
    expect(p.witnesses.get('X3')!.url).toBe('https://x3.example/');
    expect(Object.fromEntries(p.groups)).toEqual({
      'X-witnesses': { threshold: 2, members: ['X1', 'X2', 'X3'] },
      'Y-witnesses': { threshold: 1, members: ['Y1', 'Y2', 'Y3'] },
      'X-and-Y': { threshold: 2, members: ['X-witnesses', 'Y-witnesses'] },
    });
    expect(p.quorum).toBe('X-and-Y');
  });

  it('evaluates the quorum over every subset of witnesses as the spec words it', () => {
    const p = parsePolicy(EXAMPLE);
    const names = ['X1', 'X2', 'X3', 'Y1', 'Y2', 'Y3'];
    for (let mask = 0; mask < 64; mask++) {
      const set = new Set(names.filter((_, i) => mask & (1 << i)));
      const xs = ['X1', 'X2', 'X3'].filter((n) => set.has(n)).length;
      const ys = ['Y1', 'Y2', 'Y3'].filter((n) => set.has(n)).length;
      expect(quorumSatisfied(p, set), [...set].join(',')).toBe(xs >= 2 && ys >= 1);
    }
    expect(quorumSatisfied(parsePolicy(`log ${log.verifierKey}\nquorum none\n`), new Set())).toBe(true);
    const single = parsePolicy(`witness A ${w.X1!.verifierKey}\nquorum A\n`);
    expect(single.logs).toEqual([]);
    expect(quorumSatisfied(single, new Set(['A']))).toBe(true);
    expect(quorumSatisfied(single, new Set())).toBe(false);
  });

  const X1 = `witness X1 ${w.X1!.verifierKey}\n`;
  it.each([
    ['a control character', `${X1}quorum X1\r\n`, 2, /control character 0x0d/],
    ['no newline at the end', `${X1}quorum X1`, 2, /does not end in a newline/],
    ['an unknown line type', `${X1}witnesses X2 ${w.X2!.verifierKey}\nquorum X1\n`, 2, /unknown line type/],
    ['a malformed key', `log not-a-key\nquorum none\n`, 1, /log key/],
    [
      'a log key of the cosignature type',
      `log ${w.X1!.verifierKey}\nquorum none\n`,
      1,
      /type 0x04, expected 0x01/,
    ],
    [
      'a witness key of the note type',
      `witness A ${log.verifierKey}\nquorum A\n`,
      1,
      /type 0x01, expected 0x04/,
    ],
    ['a log twice', `log ${log.verifierKey}\nlog ${log.verifierKey}\nquorum none\n`, 2, /listed twice/],
    ['a witness key twice', `${X1}witness X9 ${w.X1!.verifierKey}\nquorum X1\n`, 2, /listed twice/],
    ['a name defined twice', `${X1}witness X1 ${w.X2!.verifierKey}\nquorum X1\n`, 2, /already defined/],
    ['a group named like a witness', `${X1}group X1 any X1\nquorum X1\n`, 2, /already defined/],
    [
      'a member defined later',
      `${X1}group G any X1 X2\nwitness X2 ${w.X2!.verifierKey}\nquorum G\n`,
      2,
      /X2 is not defined/,
    ],
    ['a member twice', `${X1}group G any X1 X1\nquorum G\n`, 2, /listed twice/],
    ['none as a member', `${X1}group G any none X1\nquorum G\n`, 2, /none cannot be a group member/],
    ['threshold 0', `${X1}group G 0 X1\nquorum G\n`, 2, /threshold 0/],
    ['a threshold above n', `${X1}group G 2 X1\nquorum G\n`, 2, /threshold 2/],
    ['a threshold with a leading zero', `${X1}group G 01 X1\nquorum G\n`, 2, /threshold 01/],
    ['a group without members', `${X1}group G any\nquorum X1\n`, 2, /expected: group/],
    ['a quorum not yet defined', `quorum X1\n${X1}`, 1, /X1 is not defined/],
    ['two quorum lines', `${X1}quorum X1\nquorum none\n`, 3, /second quorum line \(the first is line 2\)/],
    ['no quorum line', `${X1}\n`, 2, /no quorum line/],
    ['a URL that is not one', `log ${log.verifierKey} not-a-url\nquorum none\n`, 1, /not a URL/],
    ['too many items', `log ${log.verifierKey} https://a.example/ extra\nquorum none\n`, 1, /expected: log/],
  ])('refuses %s, naming the line', (_name, text, line, message) => {
    const e = (() => {
      try {
        parsePolicy(text);
      } catch (x) {
        return x;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(PolicyError);
    expect((e as PolicyError).line).toBe(line);
    expect((e as PolicyError).message).toMatch(message);
    expect((e as PolicyError).message).toMatch(new RegExp(`^policy line ${line}: `));
  });
});

describe('verifyCheckpointPolicy', () => {
  const p = parsePolicy(EXAMPLE);
  const checkpoint = {
    origin: 'policy.example/log',
    size: 42,
    root: new Uint8Array(32).fill(7),
    extensions: [],
  };
  const cosigned = (...names: string[]) =>
    signCheckpoint(
      checkpoint,
      parseSignerKey(log.signerKey),
      names.map((n) => parseCosignerKey(w[n]!.signerKey)),
    );

  it('names the witnesses that cosigned and says whether they make the quorum', () => {
    expect(verifyCheckpointPolicy(cosigned('X1', 'X3', 'Y2'), p)).toMatchObject({
      checkpoint: { size: 42 },
      cosigned: ['X1', 'X3', 'Y2'],
      quorum: true,
    });
    expect(verifyCheckpointPolicy(cosigned('X1', 'Y2'), p)).toMatchObject({
      cosigned: ['X1', 'Y2'],
      quorum: false,
    });
    // A cosignature by a key the policy does not list is ignored.
    const stranger = parseCosignerKey(generateCosignerKey('stranger.example/w').signerKey);
    const note = signCheckpoint(checkpoint, parseSignerKey(log.signerKey), [stranger]);
    expect(verifyCheckpointPolicy(note, p)).toMatchObject({ cosigned: [], quorum: false });
  });

  it('refuses a checkpoint of a log the policy does not list, or not signed by its log', () => {
    const other = generateSignerKey('other.example/log');
    const foreign = signCheckpoint(
      { ...checkpoint, origin: 'other.example/log' },
      parseSignerKey(other.signerKey),
    );
    expect(() => verifyCheckpointPolicy(foreign, p)).toThrow(/no log for the origin/);
    const impostor = parseSignerKey(generateSignerKey('policy.example/log').signerKey);
    const text = cosigned().split('\n\n')[0]! + '\n';
    expect(() => verifyCheckpointPolicy(signNote(text, [impostor]), p)).toThrow();
  });
});
