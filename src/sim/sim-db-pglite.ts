import { z } from 'zod';
import { PGliteDb } from '../db/pglite.ts';

/**
 * PostgreSQL settings of the simulator's own PGlite instances (the shared server and client
 * stores). PGlite's defaults size a long-lived database: 160 MB of shared buffers inside each
 * instance's wasm memory, and up to 1 GB of WAL before a checkpoint, every 16 MB segment a buffer
 * of JS memory (an in-memory PGlite's files live in the process). A 1,000-client run reached both.
 * The simulator's databases are throwaway and results do not depend on these (a run's trace is
 * the same), only memory and a little time do.
 */
export const simPgliteDefaults: Readonly<Record<string, string>> = {
  shared_buffers: '32MB',
  // The smallest PostgreSQL accepts is two segments: WAL then stays within a few 16 MB files.
  max_wal_size: '32MB',
  min_wal_size: '32MB',
  // The clients' shared instance has ~11 files per client; with PostgreSQL's 1,000 open files
  // a 300-client run reopened one for most statements (an Emscripten path lookup each: 3% of a
  // 1,000-client run's CPU). 4,000 stays under Emscripten's own limit of 4,096 open files.
  max_files_per_process: '4000',
};

/** The env variable that overrides them: "name=value name=value" (e.g. shared_buffers=128MB). */
export const SIM_PGLITE_ENV = 'LOCKSTEP_SIM_PGLITE_SETTINGS';

const setting = z.string().regex(/^[a-z_]+=[A-Za-z0-9_.]+$/, 'expected name=value (letters, digits, _ and .)');

/** The settings in force: the defaults, then those the env variable names (a bad one is a clear error). */
export function simPgliteSettings(env: string | undefined = process.env[SIM_PGLITE_ENV]): Record<string, string> {
  const out: Record<string, string> = { ...simPgliteDefaults };
  for (const item of (env ?? '').split(/\s+/).filter(Boolean)) {
    const r = setting.safeParse(item);
    if (!r.success) throw new Error(`${SIM_PGLITE_ENV}: "${item}": ${r.error.issues[0]!.message}`);
    const [name, value] = item.split('=') as [string, string];
    out[name] = value;
  }
  return out;
}

/** An in-memory PGlite for the simulator's stores, with simPgliteSettings(), opened as production opens one (PGliteDb.open). */
export async function openSimPglite(settings: Record<string, string> = simPgliteSettings()): Promise<PGliteDb> {
  try {
    return await PGliteDb.open('memory', { settings });
  } catch (e) {
    const list = Object.entries(settings).map(([k, v]) => `${k}=${v}`).join(' ');
    throw new Error(`PGlite did not start with the simulator's settings "${list}" (${SIM_PGLITE_ENV} changes them): ${(e as Error).message}`);
  }
}
