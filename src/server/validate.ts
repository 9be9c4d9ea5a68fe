import { encodedBytes, jsonProblem, safeString, valueProblem, type EffectOp, type JSONValue, type Mutation, type PushedMutation } from '../protocol/index.ts';
import type { ServerLimits } from './limits.ts';

/**
 * A pushed mutation checked on its own: either well-formed, or the reason it will be recorded
 * as failed, with a name and args that are safe to store (the raw ones may be unstorable).
 */
export type CheckedMutation =
  | { ok: true; mutation: Mutation }
  | { ok: false; mutation: Mutation; error: string };

/** What a failed mutation's log row stores instead of what the client sent. */
export function storableName(name: unknown): string {
  return typeof name === 'string' && safeString.safeParse(name).success ? name : '(invalid name)';
}

export function checkMutation(m: PushedMutation, limits: ServerLimits): CheckedMutation {
  const failed = (error: string): CheckedMutation => ({
    ok: false, error, mutation: { clientID: m.clientID, id: m.id, name: storableName(m.name), args: null, timestamp: 0 },
  });
  const name = safeString.safeParse(m.name);
  // A failed parse always carries at least one issue.
  if (!name.success) return failed(`invalid mutation name: ${name.error.issues[0]!.message}`);
  if (typeof m.timestamp !== 'number' || !Number.isFinite(m.timestamp)) return failed('invalid timestamp: must be a finite number');
  if (m.args === undefined) return failed('invalid args: missing');
  const p = valueProblem(m.args, limits.maxArgsBytes, limits.maxDepth);
  if (p) return failed(`invalid args: ${p}`);
  return { ok: true, mutation: { clientID: m.clientID, id: m.id, name: m.name as string, args: m.args as JSONValue, timestamp: m.timestamp, ...(m.origins?.length ? { origins: m.origins } : {}) } };
}

/**
 * Why a mutator's effects cannot be stored (bad key, document too big or not storable JSON), and
 * their encoded size. Effects are puts and deletes only: a mutator has no way to clear.
 */
export function checkEffects(effects: readonly EffectOp[], limits: ServerLimits): { error?: string; bytes: number } {
  let bytes = 0;
  for (const e of effects) {
    const slash = e.key.indexOf('/');
    const keyProblem = slash <= 0 || slash === e.key.length - 1 ? 'must be type/id' : jsonProblem(e.key);
    if (keyProblem || e.key.length > 513) return { error: `entity key ${JSON.stringify(e.key.slice(0, 80))}: ${keyProblem ?? 'too long'}`, bytes };
    if (e.op === 'put') {
      const p = jsonProblem(e.value, limits.maxDepth);
      if (p) return { error: `document ${e.key}: ${p}`, bytes };
      const size = encodedBytes(e.value);
      if (size > limits.maxDocumentBytes) return { error: `document ${e.key}: ${size} bytes encoded, over the limit of ${limits.maxDocumentBytes}`, bytes };
      bytes += size;
    }
    bytes += e.key.length + 16;
  }
  return { bytes };
}

/** A PostgreSQL data exception (SQLSTATE class 22): the data, not the database, is at fault. */
export function isDataError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('22');
}
