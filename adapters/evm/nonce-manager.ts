/**
 * Assigns nonces for one signing account on one chain. Assignment is serialised so concurrent pipelines never
 * reuse a nonce; on "nonce too low" (another process, a restart with transactions still pending) it resyncs
 * from the node's pending count.
 */
export class NonceManager {
  private next: bigint | undefined;
  private lock: Promise<void> = Promise.resolve();

  constructor(private readonly fetchPending: () => Promise<bigint>) {}

  /** Runs `fn` with the next nonce; the nonce is consumed only if `fn` resolves. */
  async withNonce<T>(fn: (nonce: bigint) => Promise<T>): Promise<T> {
    const prev = this.lock;
    let release!: () => void;
    this.lock = new Promise((r) => {
      release = r;
    });
    await prev;
    try {
      if (this.next === undefined) this.next = await this.fetchPending();
      const nonce = this.next;
      const out = await fn(nonce);
      this.next = nonce + 1n;
      return out;
    } catch (err) {
      this.next = undefined; // resync next time: the node knows best after a failure
      throw err;
    } finally {
      release();
    }
  }

  reset(): void {
    this.next = undefined;
  }
}
