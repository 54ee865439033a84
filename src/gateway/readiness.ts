import type { InstanceLease } from '../approvals/instance-lease.js';
import type { RecorderCounts } from '../audit/recorder.js';
import type { Store } from '../store/store.js';

export interface ReadinessParts {
  readonly store: Pick<Store, 'ping'>;
  /** The recorder's running counts: refusals since the last check, with no write since, mean it cannot record. */
  readonly counts: Readonly<RecorderCounts>;
  /** Its heartbeat is a write: a failed one means the store refuses writes even with no traffic to show it. */
  readonly lease?: Pick<InstanceLease, 'writeFailure' | 'heartbeat'>;
  readonly stopping: () => boolean;
}

/**
 * What `/readyz` answers: ready only while the gateway could record what it lets through. Not ready while stopping,
 * while the store does not answer, while it refuses writes (the lease's heartbeat failed), or while the audit
 * recorder's last writes were refused (disk full, read-only, spool at its limit) and none has succeeded since.
 */
export class Readiness {
  private seenEvents: number;
  private seenRefused: number;
  private recorderFailing = false;

  constructor(private readonly parts: ReadinessParts) {
    this.seenEvents = parts.counts.events;
    this.seenRefused = parts.counts.refused;
  }

  /** Resolves when ready; throws an Error whose message says why not. */
  async check(): Promise<void> {
    const { store, counts, lease, stopping } = this.parts;
    if (stopping()) throw new Error('stopping');
    const refused = counts.refused - this.seenRefused;
    const written = counts.events - this.seenEvents;
    this.seenRefused = counts.refused;
    this.seenEvents = counts.events;
    if (refused > 0) this.recorderFailing = true;
    else if (written > 0) this.recorderFailing = false;
    try {
      await store.ping();
    } catch (error) {
      throw new Error(`store unreachable: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (lease !== undefined) {
      // A fresh write proves the store takes writes again, with or without traffic.
      await lease.heartbeat();
      const failure = lease.writeFailure;
      if (failure !== undefined) throw new Error(`store refuses writes: ${failure}`);
      if (this.recorderFailing && refused === 0) this.recorderFailing = false;
    }
    if (this.recorderFailing) throw new Error('audit recorder refused operations since the last check');
  }
}
