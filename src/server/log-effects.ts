import type { PatchOp } from '../protocol/index.ts';

/**
 * What a replication-log row stores per write. Within one commit only a key's last write
 * carries its value; earlier writes of that key in the same commit are stored as an elided put
 * (the key alone). Pull pages end at commit boundaries, so no page ever ends on an elided put.
 */
export type LogEffect = PatchOp | ElidedPut;
export interface ElidedPut {
  op: 'put';
  key: string;
  elided: true;
}

export function elidedPut(key: string): ElidedPut {
  return { op: 'put', key, elided: true };
}

export function isElided(e: LogEffect): e is ElidedPut {
  return e.op === 'put' && (e as ElidedPut).elided === true;
}
