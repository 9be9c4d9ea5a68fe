import { z } from 'zod';
import { safeString } from '../../protocol/index.ts';
import type { SyncServer } from '../index.ts';
import type { AuthStore } from './auth.ts';

/** Largest request body accepted (a push of 1,000 mutations with small documents fits easily). */
export const MAX_BODY_BYTES = 1_000_000;

const json = (status: number, body: unknown) => Response.json(body, { status });
const registerSchema = z.object({ clientGroupID: safeString });

async function readJson(request: Request, limit: number): Promise<{ ok: true; body: unknown } | { ok: false; response: Response }> {
  const declared = Number(request.headers.get('content-length') ?? '0');
  if (declared > limit) return { ok: false, response: json(413, { error: 'PayloadTooLarge', message: `request body over ${limit} bytes` }) };
  const text = await request.text();
  if (Buffer.byteLength(text) > limit) return { ok: false, response: json(413, { error: 'PayloadTooLarge', message: `request body over ${limit} bytes` }) };
  try {
    return { ok: true, body: JSON.parse(text) };
  } catch {
    return { ok: false, response: json(400, { error: 'BadRequest', message: 'request body is not valid JSON' }) };
  }
}

/**
 * The HTTP surface over a transport-agnostic sync server, as fetch-style handlers (Request in,
 * Response out) that TanStack Start server routes and plain Node servers both mount.
 */
export class SyncApi {
  readonly server: SyncServer;
  readonly auth: AuthStore;
  readonly limit: number;

  constructor(server: SyncServer, auth: AuthStore, limit = MAX_BODY_BYTES) {
    this.server = server;
    this.auth = auth;
    this.limit = limit;
  }

  /** POST /api/register {clientGroupID} -> {clientGroupID, token}; 409 if the group is taken. */
  async register(request: Request): Promise<Response> {
    const read = await readJson(request, this.limit);
    if (!read.ok) return read.response;
    const parsed = registerSchema.safeParse(read.body);
    if (!parsed.success) return json(400, { error: 'BadRequest', message: `malformed register: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` });
    const token = await this.auth.register(parsed.data.clientGroupID);
    if (!token) return json(409, { error: 'Conflict', message: `client group ${parsed.data.clientGroupID} is already registered` });
    return json(200, { clientGroupID: parsed.data.clientGroupID, token });
  }

  push(request: Request): Promise<Response> {
    return this.authorized(request, (body) => this.server.handlePush(body));
  }

  pull(request: Request): Promise<Response> {
    return this.authorized(request, (body) => this.server.handlePull(body));
  }

  /** Size limit, bearer token, and the body's clientGroupID must be the token's group. */
  private async authorized(request: Request, handle: (body: unknown) => Promise<{ status: number; body: unknown }>): Promise<Response> {
    const header = request.headers.get('authorization') ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const denied = await this.check(token, undefined);
    if (denied) return json(denied.status, denied.body);
    const read = await readJson(request, this.limit);
    if (!read.ok) return read.response;
    const r = await this.withToken(token, read.body, handle);
    return json(r.status, r.body);
  }

  private async check(token: string, body: unknown): Promise<{ status: number; body: unknown } | undefined> {
    if (!token) return { status: 401, body: { error: 'Unauthorized', message: 'missing bearer token (POST /api/register first)' } };
    const group = await this.auth.groupOf(token);
    if (!group) return { status: 401, body: { error: 'Unauthorized', message: 'unknown token' } };
    if (body === undefined) return undefined;
    const claimed = (body as { clientGroupID?: unknown } | null)?.clientGroupID;
    if (claimed !== group) return { status: 403, body: { error: 'Forbidden', message: `token does not belong to client group ${String(claimed)}` } };
    return undefined;
  }

  /** The same checks for an already parsed body (the server functions' path). */
  async withToken(token: string, body: unknown, handle: (body: unknown) => Promise<{ status: number; body: unknown }>): Promise<{ status: number; body: unknown }> {
    return (await this.check(token, body)) ?? handle(body);
  }

  /** GET /api/poke: server-sent events, one `poke` after each committed push. */
  poke(request: Request): Response {
    const encoder = new TextEncoder();
    let off: (() => void) | undefined;
    const stream = new ReadableStream<Uint8Array>({
      start: (controller) => {
        controller.enqueue(encoder.encode(': connected\n\n'));
        off = this.server.onCommit((version) => {
          try {
            controller.enqueue(encoder.encode(`event: poke\ndata: ${JSON.stringify({ version })}\n\n`));
          } catch {
            off?.();
          }
        });
        request.signal.addEventListener('abort', () => {
          off?.();
          try {
            controller.close();
          } catch {
            /* already closed */
          }
        });
      },
      cancel: () => off?.(),
    });
    return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' } });
  }

  async health(): Promise<Response> {
    return json(200, await this.server.health());
  }
}
