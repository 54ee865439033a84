import type { Duplex } from 'node:stream';
import { joinedBuffers } from '../wire/joined-buffers.js';
import type { ResultRelay } from './result-relay.js';

/** Output of at most this many buffers, together at least this many bytes, is written vectored (see `writeAll`). */
const VECTORED_WRITE_BUFFERS = 8;
const VECTORED_WRITE_BYTES = 16 * 1024;

/**
 * What goes to the client of a PostgreSQL session: the backend's answers (masked) and the gateway's own messages.
 * Held while the record gate is shut, so everything written after an overlapped read follows its answer (refusals
 * and notices too); one write per batch; when the client reads slower than the backend answers, the backend waits.
 */
export class ClientWriter {
  private held: Buffer[] = [];
  /** Bytes of backend answers held while the gate is shut: counted by the relay, which stops reading at its limit. */
  heldBytes = 0;

  constructor(
    private readonly client: Duplex,
    private readonly backend: Duplex,
    private readonly results: ResultRelay,
    private readonly gateShut: () => boolean,
  ) {}

  write(out: Buffer[]): void {
    if (out.length === 0) return;
    // Before anything else, even a write to a gone client: masked rows left unsealed would refuse the next list.
    this.results.seal(out);
    if (this.client.destroyed) return;
    if (this.gateShut()) {
      for (const buffer of out) this.held.push(buffer);
      return;
    }
    this.send(out);
  }

  /** The record is durable: what waited goes out, in one write. */
  release(): void {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    if (held.length > 0 && !this.client.destroyed) this.send(held);
  }

  /** The record failed: what waited is never sent. */
  drop(): void {
    this.held = [];
  }

  private send(out: Buffer[]): void {
    if (!this.writeAll(out) && !this.backend.isPaused()) {
      this.backend.pause();
      this.client.once('drain', () => this.backend.resume());
    }
  }

  /**
   * Writes `out` as one write: joined when it is many frames (a copy costs less than a write each), or as the few
   * large buffers it is, in one vectored write (masked rows come as one or two views of a chunk's rows, which a
   * join would copy whole). Returns what `write` returns: false once the client's buffer is full.
   */
  private writeAll(out: Buffer[]): boolean {
    if (out.length === 1) return this.client.write(out[0] as Buffer);
    if (out.length <= VECTORED_WRITE_BUFFERS) {
      let bytes = 0;
      for (const buffer of out) bytes += buffer.length;
      if (bytes >= VECTORED_WRITE_BYTES) {
        this.client.cork();
        let room = true;
        for (const buffer of out) room = this.client.write(buffer);
        this.client.uncork();
        return room;
      }
    }
    return this.client.write(joinedBuffers(out));
  }
}
