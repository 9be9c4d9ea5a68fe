import { request as httpRequest } from 'node:http';
import { serve, type Server } from 'srvx';
import { SyncApi } from '../../src/server/http/api.ts';
import { AuthStore } from '../../src/server/http/auth.ts';
import type { SyncApiOptions } from '../../src/server/http/options.ts';
import { createSyncServer, type SyncServer } from '../../src/server/index.ts';
import { cryptoIds, type Timer } from '../../src/seams/index.ts';

/** The JSON routes of the app on a real HTTP server (srvx on Node, port 0), without the app build. */
export async function startApiServer(server: SyncServer, options: SyncApiOptions = {}): Promise<{ api: SyncApi; http: Server; base: string }> {
  const api = new SyncApi(server, await AuthStore.open(server.db, cryptoIds), options);
  const http = serve({
    port: 0,
    hostname: '127.0.0.1',
    silent: true,
    gracefulShutdown: false,
    fetch: (req) => {
      const path = new URL(req.url).pathname;
      if (req.method === 'POST' && path === '/api/register') return api.register(req);
      if (req.method === 'POST' && path === '/api/replicache/push') return api.push(req);
      if (req.method === 'POST' && path === '/api/replicache/pull') return api.pull(req);
      if (req.method === 'GET' && path === '/api/poke') return api.poke(req);
      if (req.method === 'GET' && path === '/api/health') return api.health();
      return new Response('not found', { status: 404 });
    },
  });
  await http.ready();
  return { api, http, base: http.url!.replace(/\/$/, '') };
}

export const newServer = () => createSyncServer();

/**
 * Streams a chunked body of up to `totalBytes` and stops writing as soon as the response
 * arrives: how many bytes went out tells whether the server read the whole body first.
 */
export function chunkedUpload(url: string, totalBytes: number, headers: Record<string, string> = {}): Promise<{ status: number; sent: number; body: string }> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 'x'.charCodeAt(0));
    let sent = 0;
    let answered = false;
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...headers } });
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, sent, body });
        req.destroy();
      });
    });
    req.on('error', (e) => !answered && reject(e));
    const write = () => {
      while (!answered && sent < totalBytes) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', write);
      }
      if (!answered) req.end();
    };
    write();
  });
}

/** A Timer the test drives: sleeps resolve when the test calls fire(). */
export class ManualTimer implements Timer {
  private waiting: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  sleep(_ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const entry = { resolve, reject };
      this.waiting.push(entry);
      signal?.addEventListener('abort', () => {
        this.waiting = this.waiting.filter((w) => w !== entry);
        reject(signal.reason);
      }, { once: true });
    });
  }
  get sleepers(): number {
    return this.waiting.length;
  }
  fire(): void {
    const w = this.waiting;
    this.waiting = [];
    for (const x of w) x.resolve();
  }
}
