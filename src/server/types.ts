import type { EntityData, PatchOp } from '../protocol/index.ts';

export interface LogEntry {
  version: number;
  clientID: string;
  mutationID: number;
  name: string;
  args: unknown;
  /** Puts and dels, in the order the mutator last wrote each key; empty when error is set. */
  effects: PatchOp[];
  error: string | null;
  createdAt: number;
}

export interface ClientRecord {
  clientID: string;
  clientGroupID: string;
  lastMutationID: number;
  lastModifiedVersion: number;
}

export interface PushOutcome {
  /** Mutations applied (or recorded as failed) by this push; skipped duplicates do not count. */
  processed: number;
  skipped: number;
  /** The global version after the push (0 when it wrote nothing). */
  version: number;
  /** Per client of the push, the highest mutation id the server now holds (PushResponseOK). */
  lastMutationIDs?: Record<string, number>;
  /** This push's mutations recorded as failed, and why. */
  failed?: { clientID: string; id: number; error: string }[];
}

export type EntityMap = Map<string, EntityData>;
