/**
 * services/journal/jetstream.ts: which JetStream API failures mean "the
 * cluster is settling, ask again" (a timeout, no responders, the cluster
 * temporarily unavailable or without a leader), and that whileSettling asks
 * again for those only, a bounded number of times.
 */
import { describe, expect, it } from 'vitest';
import { isSettling, JS_ERR, whileSettling } from '../../services/journal/jetstream.js';

const natsError = (code: string, errCode?: number) =>
  Object.assign(new Error(code), { code, ...(errCode ? { api_error: { err_code: errCode } } : {}) });

describe('JetStream settling', () => {
  it('tells a settling cluster from a real error', () => {
    expect(isSettling(natsError('TIMEOUT'))).toBe(true);
    expect(isSettling(natsError('503'))).toBe(true);
    expect(isSettling(natsError('500', JS_ERR.clusterNotAvailable))).toBe(true);
    expect(isSettling(natsError('500', JS_ERR.clusterNotLeader))).toBe(true);
    expect(isSettling(natsError('404', JS_ERR.streamNotFound))).toBe(false);
    expect(isSettling(new Error('other'))).toBe(false);
    expect(isSettling(undefined)).toBe(false);
  });

  it('asks again while settling, gives up after the bound, and never retries a real error', async () => {
    let calls = 0;
    const settlesAfter = (n: number) => async () => {
      if (++calls <= n) throw natsError('TIMEOUT');
      return 'info';
    };
    await expect(whileSettling(settlesAfter(2), 5, 1)).resolves.toBe('info');
    expect(calls).toBe(3);
    calls = 0;
    await expect(whileSettling(settlesAfter(10), 4, 1)).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(calls).toBe(4);
    calls = 0;
    const missing = async () => {
      calls++;
      throw natsError('404', JS_ERR.streamNotFound);
    };
    await expect(whileSettling(missing, 5, 1)).rejects.toMatchObject({ code: '404' });
    expect(calls).toBe(1);
  });
});
