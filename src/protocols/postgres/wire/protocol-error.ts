import { GatehouseError } from '../../../core/errors.js';

/**
 * The only errors the wire codec throws: a malformed message (`request.invalid`, rendered as SQLSTATE 08P01
 * protocol_violation) or one longer than the configured maximum (`request.too_large`, SQLSTATE 54000).
 */
export function protocolViolation(message: string): GatehouseError {
  return new GatehouseError('request.invalid', message);
}

export function messageTooLarge(length: number, maximum: number): GatehouseError {
  return new GatehouseError('request.too_large', `message of ${length} bytes exceeds the limit of ${maximum} bytes`, {
    details: { length, maximum },
  });
}

/** True for the errors above: what a decoder may throw on hostile input. */
export function isWireError(error: unknown): error is GatehouseError {
  return error instanceof GatehouseError && (error.code === 'request.invalid' || error.code === 'request.too_large');
}
