import { z } from 'zod';
import { formatZodIssues, ProtocolError, pullRequestSchema, pushRequestSchema, type ErrorBody, type PushEnvelope, type PushResponseOK } from '../protocol/index.ts';
import type { ServerLimits } from './limits.ts';
import type { ServerDatabase } from './server-database.ts';
import type { PushOutcome } from './types.ts';

export interface HandlerResult {
  status: number;
  body: unknown;
}

export interface HandlerOptions {
  /** When set, requests with another schemaVersion get VersionNotSupported. */
  schemaVersion?: string;
}

function badRequest(message: string, error?: z.ZodError): HandlerResult {
  const body: ErrorBody = { error: 'BadRequest', message, ...(error ? { issues: formatZodIssues(error) } : {}) };
  return { status: 400, body };
}

function describe(error: z.ZodError): string {
  return formatZodIssues(error).map((i) => `${i.path}: ${i.message}`).join('; ');
}

/** Version fields are checked before the rest, so a newer client learns it is too new rather than malformed. */
function checkVersions(body: unknown, field: 'pushVersion' | 'pullVersion', options: HandlerOptions): HandlerResult | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return badRequest('request body must be a JSON object');
  const b = body as Record<string, unknown>;
  if (field in b && b[field] !== 1) {
    return { status: 400, body: { error: 'VersionNotSupported', versionType: field === 'pushVersion' ? 'push' : 'pull' } };
  }
  if (options.schemaVersion !== undefined && typeof b.schemaVersion === 'string' && b.schemaVersion !== options.schemaVersion) {
    return { status: 400, body: { error: 'VersionNotSupported', versionType: 'schema' } };
  }
  return undefined;
}

function fromError(e: unknown): HandlerResult {
  if (e instanceof ProtocolError) return { status: e.status, body: e.body };
  throw e;
}

export async function handlePush(
  server: ServerDatabase,
  body: unknown,
  options: HandlerOptions = {},
  onOutcome?: (o: PushOutcome) => void,
): Promise<HandlerResult> {
  const early = checkVersions(body, 'pushVersion', options);
  if (early) return early;
  const parsed = pushRequestSchema.safeParse(body);
  if (!parsed.success) return badRequest(`malformed push: ${describe(parsed.error)}`, parsed.error);
  // Refuse a batch whose ids are not consecutive per client before writing anything, rather
  // than half-applying it (ownership is checked for the whole batch inside the transaction).
  const lastSeen = new Map<string, number>();
  for (const m of parsed.data.mutations) {
    const prev = lastSeen.get(m.clientID);
    if (prev !== undefined && m.id !== prev + 1) {
      return badRequest(`malformed push: mutations of client ${m.clientID} are not in ascending consecutive id order (${prev} then ${m.id})`);
    }
    lastSeen.set(m.clientID, m.id);
  }
  const origins = originsProblem(parsed.data.mutations, server.limits);
  if (origins) return badRequest(`malformed push: ${origins}`);
  try {
    const outcome = await server.push(parsed.data);
    onOutcome?.(outcome);
    const body: PushResponseOK = {};
    if (outcome.lastMutationIDs) body.lastMutationIDs = outcome.lastMutationIDs;
    if (outcome.failed?.length) body.failed = outcome.failed;
    return { status: 200, body };
  } catch (e) {
    return fromError(e);
  }
}

/** Why a push's origins are over the server's limits (both are counts of rows the push may lock or fence), or undefined. */
function originsProblem(mutations: PushEnvelope['mutations'], limits: Pick<ServerLimits, 'maxOriginsPerMutation' | 'maxOriginClientsPerPush'>): string | undefined {
  const clients = new Set<string>();
  for (const m of mutations) {
    if (!m.origins) continue;
    if (m.origins.length > limits.maxOriginsPerMutation) {
      return `mutation ${m.clientID}#${m.id} has ${m.origins.length} origins, over the limit of ${limits.maxOriginsPerMutation} (maxOriginsPerMutation)`;
    }
    for (const o of m.origins) clients.add(o.clientID);
  }
  if (clients.size > limits.maxOriginClientsPerPush) {
    return `the mutations' origins name ${clients.size} client ids, over the limit of ${limits.maxOriginClientsPerPush} (maxOriginClientsPerPush)`;
  }
  return undefined;
}

export async function handlePull(server: ServerDatabase, body: unknown, options: HandlerOptions = {}): Promise<HandlerResult> {
  const early = checkVersions(body, 'pullVersion', options);
  if (early) return early;
  const parsed = pullRequestSchema.safeParse(body);
  if (!parsed.success) return badRequest(`malformed pull: ${describe(parsed.error)}`, parsed.error);
  try {
    return { status: 200, body: await server.pull(parsed.data) };
  } catch (e) {
    return fromError(e);
  }
}
