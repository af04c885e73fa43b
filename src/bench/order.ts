// The order in which a round visits the channels. A fixed cyclic order (a
// rotation per round) gives every channel the same predecessor in every
// round, and what the predecessor leaves behind carries over: on a 2-vCPU
// machine the channel run right after the kernel FIFO streamed up to 1.5x
// slower, whichever channel that was (docs/PERFORMANCE.md, "The engine
// against the C reference"). So each round is a fresh shuffle from a seed
// the run records: predecessors change from round to round, and a run can
// be repeated in the same order.

/** mulberry32: a small, well-mixed 32-bit generator; enough to deal cards. */
function generator(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** `rounds` orders of `items`, each a Fisher–Yates shuffle; the same seed gives the same orders. */
export function roundOrders<T>(items: T[], rounds: number, seed: number): T[][] {
  const next = generator(seed);
  return Array.from({ length: rounds }, () => {
    const order = [...items];
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(next() * (i + 1));
      [order[i], order[j]] = [order[j], order[i]];
    }
    return order;
  });
}
