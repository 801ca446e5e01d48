import fc from 'fast-check';

// Every fuzz run is bounded and replayable: a fixed seed (FUZZ_SEED to try
// another) and a modest number of runs (FUZZ_RUNS multiplies them), so the
// suite stays fast and a failure reproduces. A failure prints the seed, the
// path fast-check needs to replay it, and the shrunk case.

export const SEED = Number(process.env.FUZZ_SEED ?? 20261206);
const SCALE = Number(process.env.FUZZ_RUNS ?? 1);

/** Runs `property` `runs` times (times FUZZ_RUNS) from the fixed seed. */
export async function fuzz<T>(property: fc.IAsyncPropertyWithHooks<T> | fc.IPropertyWithHooks<T>, runs: number): Promise<void> {
  const numRuns = Math.max(1, Math.round(runs * SCALE));
  try {
    await fc.assert(property as fc.IAsyncPropertyWithHooks<T>, { seed: SEED, numRuns, endOnFailure: false });
  } catch (error) {
    (error as Error).message = `fuzz failed with FUZZ_SEED=${SEED} (set it to replay)\n${(error as Error).message}`;
    throw error;
  }
}
