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
 * Legitimate, not a defect: after a server data loss (storage lost, or a backup restored) the
 * database may not know the mutation ids a client had acknowledged before. A foreign client id
 * pushed as id 1 to a database that lost its storage, or a stale id that the restored backup
 * predates (swarm seed 78: id 11 of a client whose restored record stops at 10), is then that
 * client's next write as far as this database can tell: it has no record that the id was used,
 * and only a holder of the random client id can send it (README "Exactly once across identity
 * changes"). Its owner never uses the id again: it starts over under a new id
 * (ClientStateNotFound), which is why the id is among the wiped ones. Excused only then: the id's
 * owner lost it to a server data loss, and the write is exactly the next id after everything of
 * that client id earlier in this database's log (a stale id the database did know, or a skipped
 * one, is still a violation).
 */
function forgottenByDataLoss(s: Parameters<NonNullable<CheckerModule['final']>>[0], e: { clientID: string; mutationID: number; version: number }): boolean {
  if (!s.wipedClientIDs.has(e.clientID)) return false;
  const known = s.server.log.filter((x) => x.clientID === e.clientID && x.version < e.version).reduce((m, x) => Math.max(m, x.mutationID), 0);
  return e.mutationID === known + 1;
}
