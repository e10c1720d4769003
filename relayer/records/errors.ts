/**
 * Errors of the encrypted record vault. Messages and details carry record ids, recipient ids (institution
 * references) and decision codes only: never plaintext, keys or patient identifiers.
 */
import { MedrelayError } from '../../proofs/errors.js';

/**
 * `MR_ERR_RECORD_TAMPERED`: a ciphertext, tag, IV, AAD or wrapped key failed authentication, or the plaintext
 * does not hash to the record hash. `MR_ERR_RECORD_KEY`: the caller's key is not one the record was wrapped to.
 * `MR_ERR_RECORD_ACCESS_DENIED`: the consent denies the request. `MR_ERR_RECORD_INPUT`: a malformed argument.
 * `MR_ERR_RECORD_NOT_FOUND` / `MR_ERR_RECORD_EXISTS`: vault lookups. `MR_ERR_RECORD_AUDIT`: the access could
 * not be audited, so nothing was released.
 */
export class RecordError extends MedrelayError {}

export function recordInput(field: string, expected: string): never {
  throw new RecordError('MR_ERR_RECORD_INPUT', `${field}: expected ${expected}`, { details: { field } });
}
