/**
 * SyncApi.shutdown called twice (under `vite dev` both SIGINT and SIGTERM reach shutdownSyncApi):
 * each call must end, and the server must be closed once.
 */
import { describe, expect, it, vi } from 'vitest';
import type { SyncServer } from '../index.ts';
import { SyncApi } from './api.ts';
import type { AuthStore } from './auth.ts';

function stubs() {
  const close = vi.fn(async () => {});
  const server = { onCommit: () => () => {}, close } as unknown as SyncServer;
  const auth = { groupOf: async () => 'g' } as unknown as AuthStore;
  return { close, api: new SyncApi(server, auth, { log: () => {} }) };
}

const settledWithin = async (p: Promise<unknown>, ms: number) => Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

describe('SyncApi.shutdown', () => {
  it('a second call while requests are in flight: both end once they finish, and the server closes once', async () => {
    const { api, close } = stubs();
    let finish!: () => void;
    const request = api.withToken('t', { clientGroupID: 'g' }, () => new Promise((r) => (finish = () => r({ status: 200, body: {} }))));
    await vi.waitFor(() => expect(api.requestsInFlight).toBe(1));
    const first = api.shutdown();
    const second = api.shutdown();
    await new Promise((r) => setTimeout(r, 10));
    expect(close).not.toHaveBeenCalled();
    finish();
    await request;
    expect(await settledWithin(first, 1_000)).toBe(true);
    expect(await settledWithin(second, 1_000)).toBe(true);
    expect(close).toHaveBeenCalledTimes(1);
  });
});
