/** A proxy that rewrites pull answers: every kind is refused whole by the client, and a run under it converges. */
import { describe, expect, it } from 'vitest';
import { TransportError } from '../../protocol/index.ts';
import { fetchTransport } from '../../engine/transports/fetch-json.ts';
import { rewriteKinds, rewritePullAnswer, staleRefusal } from './proxy-rewrite.ts';
import { runSimulation } from '../run.ts';
import { buildConfig } from '../scenario.ts';
import { useSimStores } from '../../../test/support/sim-stores.ts';

const getStores = useSimStores();
const page = JSON.stringify({ cookie: { order: 4, epoch: 'e' }, lastMutationIDChanges: { c1: 2 }, patch: [{ op: 'put', key: 'comment/c1', value: { body: 'hi' } }], more: false });
const pullRequest = { pullVersion: 1 as const, clientGroupID: 'g', cookie: null, profileID: 'p', schemaVersion: '1' };
const pullOf = (text: string) => fetchTransport({ baseURL: 'http://x', token: () => 't', fetch: (async () => new Response(text, { status: 200 })) as unknown as typeof fetch }).pull(pullRequest);

describe('proxy rewrite of a pull answer', () => {
  it('the page as the server sent it is accepted', async () => {
    await expect(pullOf(page)).resolves.toMatchObject({ patch: [{ op: 'put' }] });
  });

  it.each(rewriteKinds.filter((k) => k !== 'stale-page'))('%s: the client refuses the whole page with a TransportError naming where', async (kind) => {
    const text = rewritePullAnswer(page, kind);
    expect(text).not.toBe(page);
    const e = await pullOf(text).then(() => expect.unreachable('accepted'), (x: unknown) => x);
    expect(e).toBeInstanceOf(TransportError);
    expect((e as Error).message).toMatch(kind === 'bad-cookie' ? /^invalid pull response: cookie/ : /^invalid pull response: patch\.2/);
  });

  it('stale-page answers with the page given before, or leaves the answer alone when there is none', () => {
    expect(rewritePullAnswer(page, 'stale-page', '{"cookie":{"order":1,"epoch":"e"}}')).toBe('{"cookie":{"order":1,"epoch":"e"}}');
    expect(rewritePullAnswer(page, 'stale-page')).toBe(page);
  });

  it('a stale page excuses one refusal that goes back, and nothing else', () => {
    const s = { given: 1 };
    expect(staleRefusal(s, new Error('server acknowledged mutation 9 of c1, which this client never created (next is 5)'))).toBe(false);
    expect(staleRefusal(s, new Error('server cookie went back from 9 to 4'))).toBe(true);
    expect(staleRefusal(s, new Error('server cookie went back from 9 to 4'))).toBe(false);
  });

  it('leaves an answer that is not a page alone (an error body, a cut-off text)', () => {
    expect(rewritePullAnswer('{"error":"BadRequest"}', 'not-an-op')).toBe('{"error":"BadRequest"}');
    expect(rewritePullAnswer('{"cookie":', 'too-deep')).toBe('{"cookie":');
  });

  it('a run where a third of the pull answers are rewritten converges, and its clients saw the refusals', async () => {
    const base = buildConfig({ seed: 'proxy-rewrite', profile: 'none', clients: 3, steps: 80 });
    const config = { ...base, network: { ...base.network, rewriteRate: 0.33 } };
    const r = await runSimulation(config, getStores());
    expect(r.verdict, r.violations.map((v) => `${v.checker}: ${v.message}`).join('\n')).toBe('converged');
    expect(r.trace.filter((e) => e.kind === 'rewritten').length).toBeGreaterThan(3);
    expect(r.trace.some((e) => e.kind === 'sync-error' && e.detail?.startsWith('invalid pull response'))).toBe(true);
  }, 120_000);

  it('a caching proxy that answers with an older page of the client: the engine refuses the ones that would take it back, and the run converges', async () => {
    const base = buildConfig({ seed: 'proxy-stale', profile: 'none', clients: 3, steps: 300 });
    const config = { ...base, network: { ...base.network, rewriteRate: 0.6 } };
    const r = await runSimulation(config, getStores());
    expect(r.verdict, r.violations.map((v) => `${v.checker}: ${v.message}`).join('\n')).toBe('converged');
    expect(r.trace.filter((e) => e.kind === 'rewritten' && e.detail?.endsWith('stale-page')).length).toBeGreaterThan(3);
    expect(r.trace.some((e) => e.kind === 'stale-refused' && /^server (cookie|last mutation id)/.test(e.detail ?? ''))).toBe(true);
  }, 120_000);
});
