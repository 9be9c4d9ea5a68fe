/** Default of EngineOptions.documentCacheEntries. */
export const defaultDocumentCacheEntries = 1000;

/**
 * The JSON text of visible documents as this store last wrote or read them (null: absent), so
 * that a local write's mutator need not read them from the database again (a statement costs
 * about as much as the write itself). A hint, never the truth: every write sends what its
 * mutator read and writes nothing if the database holds something else (see queue_and_apply);
 * then the cache is dropped and the write runs again on the database. At most `max` documents,
 * the least recently used leave first; 0 turns it off.
 */
export class DocumentCache {
  private readonly docs = new Map<string, string | null>();

  constructor(readonly max: number = defaultDocumentCacheEntries) {}

  /** The document's JSON text, null if known absent, undefined if unknown. */
  get(key: string): string | null | undefined {
    const text = this.docs.get(key);
    if (text !== undefined) {
      this.docs.delete(key);
      this.docs.set(key, text);
    }
    return text;
  }

  set(key: string, text: string | null): void {
    if (this.max === 0) return;
    this.docs.delete(key);
    this.docs.set(key, text);
    if (this.docs.size > this.max) this.docs.delete(this.docs.keys().next().value!);
  }

  forget(key: string): void {
    this.docs.delete(key);
  }

  clear(): void {
    this.docs.clear();
  }

  get size(): number {
    return this.docs.size;
  }
}
