/**
 * Rows as JSON arrays of at most about maxChars characters each (a bigger row goes alone), in
 * order. A pull page is written in statements of one chunk each: one statement with the whole
 * page grew PGlite's WebAssembly heap by its size several times over, and that heap never
 * shrinks (by 87 MB for a page of 25,000 small documents; 39 MB at 1 MiB chunks, nothing at 256 KiB).
 */
export function jsonChunks(rows: readonly unknown[], maxChars: number): string[] {
  const chunks: string[] = [];
  let current: string[] = [];
  let size = 2;
  for (const row of rows) {
    const json = JSON.stringify(row);
    if (current.length > 0 && size + json.length + 1 > maxChars) {
      chunks.push(`[${current.join(',')}]`);
      current = [];
      size = 2;
    }
    current.push(json);
    size += json.length + 1;
  }
  if (current.length > 0) chunks.push(`[${current.join(',')}]`);
  return chunks;
}
