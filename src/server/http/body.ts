/** Reading request bodies with a byte cap that holds while streaming (chunked uploads included). */

export type BodyResult = { ok: true; text: string } | { ok: false; status: 413 | 400; message: string };

/**
 * Reads at most `limit` bytes: a declared Content-Length over the limit is refused unread, and a
 * chunked body is cut off (its stream cancelled) as soon as the count passes the limit, so a
 * 200 MiB upload costs about `limit` bytes of memory, not 200 MiB.
 */
export async function readBodyLimited(request: Request, limit: number): Promise<BodyResult> {
  const tooLarge = { ok: false as const, status: 413 as const, message: `request body over ${limit} bytes` };
  const declared = request.headers.get('content-length');
  if (declared !== null && /^\d+$/.test(declared) && Number(declared) > limit) {
    await request.body?.cancel().catch(() => {});
    return tooLarge;
  }
  if (!request.body) return { ok: true, text: '' };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        return tooLarge;
      }
      chunks.push(value);
    }
  } catch (e) {
    // srvx's own body cap (serve.mjs) errors the stream with a 413-style error.
    if ((e as { status?: number }).status === 413) return tooLarge;
    return { ok: false, status: 400, message: `request body could not be read: ${(e as Error).message}` };
  }
  return { ok: true, text: Buffer.concat(chunks).toString('utf8') };
}

export async function readJsonLimited(request: Request, limit: number): Promise<{ ok: true; body: unknown } | { ok: false; status: 413 | 400; message: string }> {
  const read = await readBodyLimited(request, limit);
  if (!read.ok) return read;
  try {
    return { ok: true, body: JSON.parse(read.text) };
  } catch {
    return { ok: false, status: 400, message: 'request body is not valid JSON' };
  }
}
