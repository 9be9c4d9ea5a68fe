import { violation } from '../findings.ts';
import { INTRUDER_FIELD } from '../wide-ops.ts';
import type { CheckerModule } from './types.ts';

/**
 * A misbehaving client's raw pushes (skipped ids, a stale id with other args, another group's
 * client id) are refused: none of their writes reaches the log. They are never queued, so the
 * no-lost-write and exactly-once checkers do not count them as lost; this one counts them applied.
 */
export const intruderRefused: CheckerModule = {
  name: 'intruder-refused',
  final(s) {
    const applied = s.server.log.filter((e) => {
      const data = (e.args as { data?: Record<string, unknown> } | null)?.data;
      return !e.error && data !== undefined && data !== null && typeof data === 'object' && INTRUDER_FIELD in data;
    });
    return applied.slice(0, 5).map((e) => violation('intruder-refused', `the server applied a misbehaving client's push: ${e.clientID}#${e.mutationID} at version ${e.version} (${JSON.stringify(e.args).slice(0, 120)})`, { clientID: e.clientID, version: e.version, t: s.t }));
  },
};
