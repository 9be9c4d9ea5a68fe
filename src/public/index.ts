/**
 * `lockstep`: the client engine, the protocol (mutators, schemas, errors) and the database
 * drivers. What an app imports on the client; the server, HTTP, React and simulator entry points
 * are `lockstep/server`, `lockstep/http`, `lockstep/react` and `lockstep/sim`.
 */
export * from '../engine/index.ts';
export * from '../protocol/index.ts';
export { PGliteDb, PostgresDb } from '../db/index.ts';
export type { Db, Queryable, TransactionOptions } from '../db/types.ts';
export { fetchTransport, registerClientGroup, type FetchTransportOptions } from '../engine/transports/fetch-json.ts';
export { GroupToken, LostTokenError, type GroupTokenOptions } from '../engine/transports/group-token.ts';
export { serverFnTransport } from '../engine/transports/server-fn.ts';
