/** A tiny listener set whose `on` returns the unsubscribe function. A throwing listener does not stop the others. */
export class Emitter<T> {
  private readonly listeners = new Set<(value: T) => void>();

  get size(): number {
    return this.listeners.size;
  }

  on(listener: (value: T) => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  emit(value: T): void {
    for (const l of [...this.listeners]) {
      try {
        l(value);
      } catch {
        // A subscriber's bug must not break sync; it is the subscriber's to report.
      }
    }
  }
}
