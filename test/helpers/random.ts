/** Deterministic PRNG (mulberry32) for property tests: a failure reproduces from its seed. */
export interface Rng {
  next(): number;
  int(maxExclusive: number): number;
  bytes(len: number): Uint8Array;
}

export function rng(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number): number => Math.floor(next() * max);
  const bytes = (len: number): Uint8Array => {
    const out = new Uint8Array(len);
    for (let i = 0; i < len; i++) out[i] = int(256);
    return out;
  };
  return { next, int, bytes };
}
