import type { Timer } from '../../seams/index.ts';

interface Connection {
  send(text: string): void;
  close(): void;
}

export interface PokeHubOptions {
  maxConnections: number;
  heartbeatMs: number;
  bufferBytes: number;
  timer: Timer;
}

const encoder = new TextEncoder();

/**
 * The server-sent event streams of /api/poke: at most `maxConnections` open, a heartbeat comment
 * every `heartbeatMs`, and a stream whose reader falls `bufferBytes` behind is dropped (its
 * client reconnects and pulls) instead of queueing pokes without bound.
 */
export class PokeHub {
  private readonly connections = new Set<Connection>();
  private readonly off: () => void;

  constructor(
    onCommit: (listener: (version: number) => void) => () => void,
    private readonly o: PokeHubOptions,
  ) {
    this.off = onCommit((version) => {
      for (const c of [...this.connections]) c.send(`event: poke\ndata: ${JSON.stringify({ version })}\n\n`);
    });
  }

  get size(): number {
    return this.connections.size;
  }

  /** A new stream, or undefined when the cap is reached. Ends when `signal` aborts (the client left). */
  connect(signal: AbortSignal): ReadableStream<Uint8Array> | undefined {
    if (this.connections.size >= this.o.maxConnections) return undefined;
    const stop = new AbortController();
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const conn: Connection = {
      send: (text) => {
        if (stop.signal.aborted) return;
        try {
          controller.enqueue(encoder.encode(text));
        } catch {
          return conn.close();
        }
        // desiredSize <= 0: the reader is `bufferBytes` behind. Erroring discards the queue.
        if ((controller.desiredSize ?? 0) <= 0) {
          this.end(conn, stop);
          try {
            controller.error(new Error('poke stream dropped: the client is not reading'));
          } catch {
            /* already closed */
          }
        }
      },
      close: () => {
        if (!this.end(conn, stop)) return;
        try {
          controller.close();
        } catch {
          /* already closed or errored */
        }
      },
    };
    const stream = new ReadableStream<Uint8Array>(
      {
        start: (c) => {
          controller = c;
        },
        cancel: () => void this.end(conn, stop),
      },
      new ByteLengthQueuingStrategy({ highWaterMark: this.o.bufferBytes }),
    );
    this.connections.add(conn);
    conn.send(': connected\n\n');
    if (signal.aborted) conn.close();
    else signal.addEventListener('abort', () => conn.close(), { once: true });
    void this.heartbeat(conn, stop.signal);
    return stream;
  }

  /** Ends every stream (shutdown) and stops listening for commits. */
  closeAll(): void {
    this.off();
    for (const c of [...this.connections]) c.close();
  }

  private end(conn: Connection, stop: AbortController): boolean {
    if (!this.connections.delete(conn)) return false;
    stop.abort();
    return true;
  }

  private async heartbeat(conn: Connection, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.o.timer.sleep(this.o.heartbeatMs, signal);
      } catch {
        return;
      }
      conn.send(': heartbeat\n\n');
    }
  }
}
