/**
 * The exec ids this proxy created (answers to allowed `POST /containers/{id}/exec`), so that
 * `/exec/{id}/start|resize|json` works only on those: an exec created elsewhere (through the
 * admin UIs' proxy, say) cannot be started from here. Entries expire after `ttlMs`; the
 * oldest go first beyond `maxEntries`.
 */
export class ExecRegistry {
  readonly #entries = new Map<string, { container: string; expiresAt: number }>();
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor(options: { ttlMs?: number; maxEntries?: number; now?: () => number } = {}) {
    this.#ttlMs = options.ttlMs ?? 15 * 60_000;
    this.#maxEntries = options.maxEntries ?? 4096;
    this.#now = options.now ?? Date.now;
  }

  remember(execId: string, container: string): void {
    this.#prune();
    this.#entries.delete(execId);
    this.#entries.set(execId, { container, expiresAt: this.#now() + this.#ttlMs });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done === true) break;
      this.#entries.delete(oldest.value);
    }
  }

  /** The container the exec was created in, when the id is ours and not expired. */
  lookup(execId: string): string | undefined {
    const entry = this.#entries.get(execId);
    if (entry === undefined) return undefined;
    if (entry.expiresAt <= this.#now()) {
      this.#entries.delete(execId);
      return undefined;
    }
    return entry.container;
  }

  get size(): number {
    return this.#entries.size;
  }

  #prune(): void {
    const now = this.#now();
    // Insertion order is expiry order (one TTL for all): stop at the first live entry.
    for (const [id, entry] of this.#entries) {
      if (entry.expiresAt > now) break;
      this.#entries.delete(id);
    }
  }
}
