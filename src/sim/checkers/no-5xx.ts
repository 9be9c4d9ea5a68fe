import { violation } from '../findings.ts';
import type { CheckerModule } from './types.ts';

/**
 * A correct server never answers 5xx to a well-formed request unless a fault was injected into
 * that request (the simulated clients only send well-formed ones). A server bug that only shows
 * as 500s, and that clients survive by retrying, fails here.
 */
export const no5xx: CheckerModule = {
  name: 'no-5xx',
  final(s) {
    const bad = s.answers.filter((a) => a.status >= 500 && !a.injected);
    return bad.slice(0, 5).map((a) => violation('no-5xx', `the server answered ${a.status} to ${a.lane} ${a.label} with no fault injected into it${a.error ? `: ${a.error}` : ''}`, { lane: a.lane, t: a.t }));
  },
};
