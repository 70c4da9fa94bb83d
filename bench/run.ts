export async function runBenchmarks(_o: { outDir: string; messages: number; latencySeconds: number }): Promise<void> { throw new Error('todo'); }
