/**
 * Errors of the application clients (hospital, patient, insurer). Messages and details carry record ids, consent
 * ids, referral ids, contract names and error codes only: never a record, a patient identifier or a key.
 *
 * - `MR_ERR_CLIENT_INPUT`: a malformed argument (named in `details.field`); nothing was written.
 * - `MR_ERR_CLIENT_CONFIG`: the client was built without what the call needs (a contract address, the vault, a
 *   signing key).
 * - `MR_ERR_CLIENT_REVERTED`: the contract would revert (checked with `eth_estimateGas` before anything is sent,
 *   so nothing was written); `details.errorName` is the custom error.
 * - `MR_ERR_CLIENT_NOT_FOUND`: the chain does not know the record / referral asked for.
 * - `MR_ERR_CLIENT_VERIFY`: a local check of what the chain returned failed (anchor signature, consent binding).
 * - `MR_ERR_CODEMAP_UNKNOWN`: a disclosure names a code map (url, version, hash) the verifier does not hold or that
 *   is not anchored with that hash.
 * - `MR_ERR_CLIENT_HTTP`: the relayer API answered with an unexpected status.
 */
import { MedrelayError } from '../../../proofs/errors.js';

export class ClientError extends MedrelayError {}

export function clientInput(field: string, expected: string): never {
  throw new ClientError('MR_ERR_CLIENT_INPUT', `${field}: expected ${expected}`, { details: { field } });
}

export function clientConfig(what: string): never {
  throw new ClientError('MR_ERR_CLIENT_CONFIG', `client not configured: ${what}`, { details: { what } });
}
