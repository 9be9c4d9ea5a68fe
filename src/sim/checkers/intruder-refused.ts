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
      if (e.error || data === undefined || data === null || typeof data !== 'object' || !(INTRUDER_FIELD in data)) return false;
      return !forgottenByDataLoss(s, e);
    });
    return applied.slice(0, 5).map((e) => violation('intruder-refused', `the server applied a misbehaving client's push: ${e.clientID}#${e.mutationID} at version ${e.version} (${JSON.stringify(e.args).slice(0, 120)})`, { clientID: e.clientID, version: e.version, t: s.t }));
  },
};

/**
 * Legitimate, not a defect: a foreign (or stale) client id pushed as id 1 to a database that lost
 * its storage (or was restored to a backup from before that client) is an unknown client's first
 * write to that database: it has no record that the id was ever another group's, so it registers
 * it in the pusher's group, as it must for any new client (the id is random; only a holder of it
 * can send it, see README "Exactly once across identity changes"). Its owner never uses the id
 * again: it starts over under a new id (ClientStateNotFound), which is why the id is among the
 * wiped ones. Excused only then: the id's owner lost it to a server data loss, the write is the
 * id's first (#1) and nothing of that id precedes it in the log, so the database knew nothing.
 */
function forgottenByDataLoss(s: Parameters<NonNullable<CheckerModule['final']>>[0], e: { clientID: string; mutationID: number; version: number }): boolean {
  if (e.mutationID !== 1 || !s.wipedClientIDs.has(e.clientID)) return false;
  return !s.server.log.some((x) => x.clientID === e.clientID && x.version < e.version);
}
