import type { Logger } from 'pino';
import { GatehouseError } from '../../core/errors.js';
import type { Identity } from '../../core/identity.js';
import type { QuotaRefusal, Quotas, Reservation, SettleOutcome } from '../../quotas/quotas.js';
import type { TokenPrice } from '../../quotas/usd-budgets.js';
import type { OperationResult } from '../../session/session.js';
import type { ProviderCall } from './providers/profile.js';
import type { TokenUsage } from './providers/usage.js';

export type MeterStart =
  | { readonly ok: true; readonly meter: CallMeter }
  | { readonly ok: false; readonly refusal: QuotaRefusal };

/** The result-record fields a settlement contributes. */
export type MeterFields = Pick<OperationResult, 'usage' | 'reservedTokens' | 'chargedTokens'>;

/**
 * One inference call's budget hold: reserved after policy allowed the call, settled exactly once when its outcome is
 * known (the upstream's reported usage; nothing when the call never reached the upstream or was refused by it; the
 * whole reservation when the outcome is unknown, e.g. a stream cut before its usage arrived).
 */
export class CallMeter {
  private settled = false;

  private constructor(
    private readonly quotas: Quotas | undefined,
    private readonly reservation: Reservation | undefined,
    private readonly logger: Logger,
  ) {}

  /** Reserves the call's worst case when budgets apply to it; refuses when one has no room. Fails closed. */
  static async open(
    quotas: Quotas | undefined,
    identity: Identity,
    resource: string,
    call: ProviderCall,
    logger: Logger,
    price?: TokenPrice,
  ): Promise<MeterStart> {
    if (!quotas?.enabled || !call.metered) return { ok: true, meter: new CallMeter(undefined, undefined, logger) };
    let result: Awaited<ReturnType<Quotas['reserve']>>;
    try {
      result = await quotas.reserve(identity, resource, {
        promptTokens: call.promptTokens ?? 0,
        ...(call.maxOutputTokens === undefined ? {} : { maxOutputTokens: call.maxOutputTokens }),
        ...(price === undefined ? {} : { price }),
      });
    } catch (error) {
      throw new GatehouseError('internal', 'budgets could not be checked, so the call was not run', { cause: error });
    }
    if (!result.ok) return { ok: false, refusal: result.refusal };
    // No bucket applied (no budget names this caller): nothing to settle.
    const held = result.reservation.keys.length > 0 || result.reservation.usd !== undefined;
    const reservation = held ? result.reservation : undefined;
    return { ok: true, meter: new CallMeter(quotas, reservation, logger) };
  }

  /**
   * Settles once with what is known: `status` undefined means no response arrived (`failure` says why). Returns the
   * fields for the result record; a settlement the store refuses is logged, never the caller's failure.
   */
  async settle(
    status: number | undefined,
    usage: TokenUsage | undefined,
    failure?: GatehouseError,
  ): Promise<MeterFields> {
    const fields: MeterFields = usage === undefined ? {} : { usage: { ...usage } };
    if (this.settled || !this.quotas || !this.reservation) return fields;
    this.settled = true;
    const outcome = settleOutcome(status, usage, failure);
    const charged = outcome === 'failed' ? 0 : outcome === 'unknown' ? this.reservation.tokens : outcome.totalTokens;
    try {
      await this.quotas.settle(this.reservation, outcome);
    } catch (error) {
      this.logger.error({ err: error }, 'quota settlement failed; the reservation stays held until its window ends');
    }
    return { ...fields, reservedTokens: this.reservation.tokens, chargedTokens: Math.ceil(charged) };
  }
}

function settleOutcome(
  status: number | undefined,
  usage: TokenUsage | undefined,
  failure: GatehouseError | undefined,
): SettleOutcome {
  if (usage !== undefined)
    return { totalTokens: usage.totalTokens, inputTokens: usage.inputTokens, outputTokens: usage.outputTokens };
  // The upstream could not be reached: nothing ran. A timeout may have run on the upstream: charge it whole.
  if (status === undefined) return failure?.code === 'upstream.unavailable' ? 'failed' : 'unknown';
  // An upstream refusal (4xx/5xx) without usage did not run the model.
  return status >= 400 ? 'failed' : 'unknown';
}
