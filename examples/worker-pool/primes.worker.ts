/**
 * Runs on a worker thread (piscina): count the primes below `limit`. CPU-bound on purpose —
 * on the main thread it would stall every other connection for the duration.
 */
export default function countPrimes({ limit }: { limit: number }): number {
  let count = 0;
  for (let n = 2; n < limit; n++) {
    let prime = true;
    for (let d = 2; d * d <= n; d++) {
      if (n % d === 0) {
        prime = false;
        break;
      }
    }
    if (prime) count++;
  }
  return count;
}
