import { randomInt, timingSafeEqual } from 'node:crypto';
import type { CancelRequest } from '../wire/frontend-messages.js';

/** What a CancelRequest reaches: a client session that can ask its backend to cancel. */
export interface Cancellable {
  cancel(): Promise<void>;
}

export interface IssuedKey {
  readonly processId: number;
  readonly secretKey: number;
}

/**
 * The gateway's own BackendKeyData per client session. Clients never see the backend's process id or secret key: a
 * CancelRequest presenting the gateway's key is mapped to the session, which sends the backend its real key.
 * https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-CANCELING-REQUESTS
 */
export class CancelKeys {
  private readonly sessions = new Map<number, { readonly secret: Buffer; readonly target: Cancellable }>();

  issue(target: Cancellable): IssuedKey {
    let processId: number;
    do processId = randomInt(1, 2 ** 31 - 1);
    while (this.sessions.has(processId));
    const secretKey = randomInt(-(2 ** 31), 2 ** 31 - 1);
    const secret = Buffer.alloc(4);
    secret.writeInt32BE(secretKey);
    this.sessions.set(processId, { secret, target });
    return { processId, secretKey };
  }

  remove(processId: number): void {
    this.sessions.delete(processId);
  }

  /** Cancels the matching session's running statement; a wrong key is ignored silently, as the server does. */
  async cancel(request: CancelRequest): Promise<boolean> {
    const entry = this.sessions.get(request.processId);
    if (entry === undefined || request.secretKey.length !== entry.secret.length) return false;
    if (!timingSafeEqual(request.secretKey, entry.secret)) return false;
    await entry.target.cancel();
    return true;
  }
}
