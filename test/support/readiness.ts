/** `/readyz` of a gateway's admin listener, as the readiness tests read it. */
export interface Readiness {
  readyz(): Promise<{ status: number; body: { status: string; reason?: string } }>;
  /** Polls until `/readyz` answers `status`, or `withinMs` is up; returns the last answer either way. */
  waitForReady(status: number, withinMs: number): ReturnType<Readiness['readyz']>;
}

/** `adminPort` is read at each call: tests learn it once the gateway has started. */
export function readinessOf(adminPort: () => number): Readiness {
  const readyz: Readiness['readyz'] = async () => {
    const res = await fetch(`http://127.0.0.1:${adminPort()}/readyz`);
    return { status: res.status, body: (await res.json()) as { status: string; reason?: string } };
  };
  return {
    readyz,
    async waitForReady(status, withinMs) {
      const until = performance.now() + withinMs;
      let last = await readyz();
      while (last.status !== status && performance.now() < until) {
        await new Promise((r) => setTimeout(r, 200));
        last = await readyz();
      }
      return last;
    },
  };
}
