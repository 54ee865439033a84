import type { Duplex } from 'node:stream';
import { joinedBuffers } from '../wire/joined-buffers.js';

/** Frontend bytes gathered before they are written to the backend in one go. */
const FLUSH_BYTES = 64 * 1024;

/**
 * The client -> backend byte path: frontend messages are gathered and written together, so a pipelined batch
 * (Parse, Bind, Execute, Sync) reaches the backend in one write; a flush waits while the backend's socket is full.
 */
export class BackendWriter {
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;

  constructor(private readonly socket: Duplex) {}

  /** Bytes gathered and not yet written. */
  get bytes(): number {
    return this.gatheredBytes;
  }

  /** Enough is gathered that it should be written now rather than wait for more. */
  get full(): boolean {
    return this.gatheredBytes >= FLUSH_BYTES;
  }

  send(bytes: Buffer): void {
    this.gathered.push(bytes);
    this.gatheredBytes += bytes.length;
  }

  /** Writes what is gathered; waits while the backend's socket buffer is full. */
  async flush(): Promise<void> {
    if (this.gathered.length === 0) return;
    const data = joinedBuffers(this.gathered, this.gatheredBytes);
    this.gathered = [];
    this.gatheredBytes = 0;
    if (this.socket.destroyed) return;
    if (!this.socket.write(data)) await drained(this.socket);
  }
}

function drained(socket: Duplex): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}
