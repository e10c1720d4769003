/**
 * Encrypted record vault (issue 3, item 2): one JSON envelope per record, encrypted with `crypto.ts`, released
 * only to a recipient whose consent permits the request, and only when the plaintext still hashes to the
 * anchored record hash. Every release (and every refusal) goes to the `onAccess` audit hook.
 *
 * `FileRecordVault` layout: `<dir>/<recordId hex, no 0x>.json`, mode 0600. Writes go to a temp file in the same
 * directory, are fsynced, then moved into place (`link` for a new record, so two writers cannot both create it;
 * `rename` for a re-wrap), then the directory is fsynced. A crash therefore leaves either the old envelope or
 * the new one, plus at worst an orphaned `.<name>.<random>.tmp` that readers never open.
 *
 * Privacy: the vault never logs, and its errors carry record ids, recipient ids and consent decision codes only.
 */
import { createHash, randomBytes } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Hex } from '../../proofs/bytes.js';
import type { Consent } from '../../proofs/consent/consent.js';
import {
  type ConsentRequest,
  type DecisionCode,
  type EvaluateOptions,
  evaluateConsent,
  type RequestCoding,
} from '../../proofs/consent/evaluate.js';
import {
  checkRecipientId,
  decryptRecord,
  type EncryptedRecord,
  encryptRecord,
  type Recipient,
  unwrapDataKey,
  wrapKey,
} from './crypto.js';
import { RecordError, recordInput } from './errors.js';

/** A party that already holds a wrap of the record and can re-wrap it for someone else. */
export interface RecordHolder {
  id: string;
  privateKey: Uint8Array;
}

export interface PutOptions {
  /**
   * Pseudonym (records.md, 0x + 64 hex) of the record's patient. When set, `fetch` only accepts a consent whose
   * `patient` is `Patient/<pseudonym>`, and access events carry it so the audit trail can file them.
   */
  patient?: string;
}

export interface FetchOptions {
  recipientId: string;
  recipientPrivateKey: Uint8Array;
  consent: Consent;
  /**
   * The access request; `request.actor` must be `recipientId` (the consent is checked for who decrypts). The
   * time of access is the vault's clock, never the caller's: a caller-chosen `at` could replay an expired
   * consent.
   */
  request: Omit<ConsentRequest, 'at'>;
  /** Revocation flag (on-chain registry), code matcher… passed to `evaluateConsent`. */
  consentOptions?: EvaluateOptions;
}

export type RecordAccessOutcome = 'permitted' | 'denied' | 'failed';

/** What the audit hook learns about an access: ids, hashes and codes, never the record. */
export interface RecordAccessEvent {
  outcome: RecordAccessOutcome;
  recordId: Hex;
  recordHash?: Hex;
  /** Patient pseudonym, when the record was stored with one. */
  patient?: Hex;
  recipientId: string;
  consentId?: string;
  purpose?: RequestCoding;
  /** consent decision code (`PERMIT`, `DENY_EXPIRED`, …) or the error code of a failure. */
  code: DecisionCode | string;
  reason?: string;
  at: Date;
}

export type RecordAccessHook = (event: RecordAccessEvent) => void | Promise<void>;

export interface RecordVault {
  /** Encrypts and stores a new record. @throws MR_ERR_RECORD_EXISTS when the id is taken. */
  put(
    recordId: string,
    canonicalBytes: Uint8Array,
    recordHash: string,
    recipients: readonly Recipient[],
    options?: PutOptions,
  ): Promise<void>;
  /** Wraps the record's key for one more recipient (or re-wraps it to a rotated key). */
  grantRecipient(recordId: string, holder: RecordHolder, recipient: Recipient): Promise<void>;
  /** Consent check, decryption, hash check, audit; then the canonical bytes. */
  fetch(recordId: string, options: FetchOptions): Promise<Uint8Array>;
  has(recordId: string): Promise<boolean>;
}

export interface FileRecordVaultOptions {
  /** Audit hook, awaited: when it throws on a release, nothing is released (`MR_ERR_RECORD_AUDIT`). */
  onAccess?: RecordAccessHook;
  /** Clock: the time of access for consent checks and audit events. @defaultValue `() => new Date()` */
  now?: () => Date;
}

/** An envelope as the vault stores it: the crypto envelope plus the optional patient pseudonym. */
export interface StoredEnvelope extends EncryptedRecord {
  patient?: Hex;
}

const RECORD_ID_RE = /^0x[0-9a-fA-F]{64}$/;

function checkHex32(v: string, field: string): Hex {
  if (typeof v !== 'string' || !RECORD_ID_RE.test(v)) recordInput(field, '0x + 64 hex digits');
  return v.toLowerCase() as Hex;
}

const sha256Hex = (b: Uint8Array): Hex => `0x${createHash('sha256').update(b).digest('hex')}`;

function errorCode(err: unknown): string {
  return typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string'
    ? (err as { code: string }).code
    : 'MR_ERR_INTERNAL';
}

export class FileRecordVault implements RecordVault {
  private readonly onAccess: RecordAccessHook | undefined;
  private readonly now: () => Date;
  /** Per-record queue so two grants in this process cannot both read, re-wrap and overwrite each other. */
  private readonly locks = new Map<string, Promise<unknown>>();

  private constructor(
    readonly dir: string,
    options: FileRecordVaultOptions,
  ) {
    this.onAccess = options.onAccess;
    this.now = options.now ?? (() => new Date());
  }

  /**
   * Opens (creating, mode 0700) a vault directory.
   *
   * @example
   * const vault = await FileRecordVault.open('/var/lib/medrelay/vault', { onAccess: (e) => audit.recordAccess(e) });
   */
  static async open(dir: string, options: FileRecordVaultOptions = {}): Promise<FileRecordVault> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    return new FileRecordVault(dir, options);
  }

  private path(recordId: Hex): string {
    return join(this.dir, `${recordId.slice(2)}.json`);
  }

  async has(recordId: string): Promise<boolean> {
    return (await this.read(checkHex32(recordId, 'recordId'), false)) !== null;
  }

  async put(
    recordId: string,
    canonicalBytes: Uint8Array,
    recordHash: string,
    recipients: readonly Recipient[],
    options: PutOptions = {},
  ): Promise<void> {
    const id = checkHex32(recordId, 'recordId');
    const hash = checkHex32(recordHash, 'recordHash');
    if (!(canonicalBytes instanceof Uint8Array)) recordInput('canonicalBytes', 'bytes');
    // Refuse to store what could never pass the fetch-time hash check.
    if (sha256Hex(canonicalBytes) !== hash) recordInput('recordHash', 'sha256 of canonicalBytes');
    for (const r of recipients) checkRecipientId(r.id, 'recipients[].id');
    const env: StoredEnvelope = encryptRecord({
      recordId: id,
      recordHash: hash,
      plaintext: canonicalBytes,
      recipients,
    });
    if (options.patient !== undefined) env.patient = checkHex32(options.patient, 'patient');
    await this.write(id, env, 'create');
  }

  async grantRecipient(recordId: string, holder: RecordHolder, recipient: Recipient): Promise<void> {
    const id = checkHex32(recordId, 'recordId');
    checkRecipientId(holder.id, 'holder.id');
    checkRecipientId(recipient.id, 'recipient.id');
    await this.serial(id, async () => {
      const env = await this.read(id, true);
      const dataKey = unwrapDataKey(env, holder.id, holder.privateKey);
      try {
        const wrappedKeys = { ...env.wrappedKeys, [recipient.id]: wrapKey(dataKey, env, recipient) };
        await this.write(id, { ...env, wrappedKeys }, 'replace');
      } finally {
        dataKey.fill(0);
      }
    });
  }

  /**
   * @example
   * const bytes = await vault.fetch(recordId, { recipientId: 'Organization/insurer-x', recipientPrivateKey,
   *   consent, request: { actor: 'Organization/insurer-x', purpose, data, at: new Date() } });
   * @throws RecordError MR_ERR_RECORD_ACCESS_DENIED | MR_ERR_RECORD_TAMPERED | MR_ERR_RECORD_KEY |
   *   MR_ERR_RECORD_NOT_FOUND | MR_ERR_RECORD_AUDIT; ProofError MR_ERR_CONSENT_* for an invalid consent
   */
  async fetch(recordId: string, options: FetchOptions): Promise<Uint8Array> {
    const id = checkHex32(recordId, 'recordId');
    const recipientId = checkRecipientId(options.recipientId);
    const env = await this.read(id, true);
    const base = {
      recordId: id,
      recordHash: env.recordHash,
      recipientId,
      ...(env.patient ? { patient: env.patient } : {}),
      ...(typeof options.consent?.id === 'string' ? { consentId: options.consent.id } : {}),
      ...(options.request?.purpose ? { purpose: options.request.purpose } : {}),
    };

    const at = this.now();
    const denial = this.checkConsent(env, recipientId, options, at);
    if (denial) {
      await this.audit({ ...base, outcome: 'denied', code: denial.code, reason: denial.reason }, false);
      throw new RecordError(
        'MR_ERR_RECORD_ACCESS_DENIED',
        `access to record ${id} by ${recipientId} denied: ${denial.reason}`,
        { details: { recordId: id, recipientId, decision: denial.code, reason: denial.reason } },
      );
    }

    let plaintext: Uint8Array;
    try {
      plaintext = decryptRecord(env, recipientId, options.recipientPrivateKey);
      if (sha256Hex(plaintext) !== env.recordHash) {
        plaintext.fill(0);
        throw new RecordError(
          'MR_ERR_RECORD_TAMPERED',
          `record ${id}: plaintext does not hash to recordHash`,
          {
            details: { recordId: id },
          },
        );
      }
    } catch (err) {
      await this.audit({ ...base, outcome: 'failed', code: errorCode(err) }, false);
      throw err;
    }
    try {
      await this.audit({ ...base, outcome: 'permitted', code: 'PERMIT' }, true);
    } catch (err) {
      plaintext.fill(0);
      throw err;
    }
    return plaintext;
  }

  /** null when the consent permits; otherwise the decision code and reason. */
  private checkConsent(
    env: StoredEnvelope,
    recipientId: string,
    options: FetchOptions,
    at: Date,
  ): { code: string; reason: string } | null {
    if (options.request?.actor !== recipientId) {
      return {
        code: 'DENY_ACTOR',
        reason: `request.actor must be the recipient that decrypts (${recipientId})`,
      };
    }
    if (
      env.patient !== undefined &&
      options.consent?.patient?.reference !== `Patient/${env.patient.slice(2)}`
    ) {
      return {
        code: 'DENY_PATIENT',
        reason: `consent ${options.consent?.id} is not about this record's patient`,
      };
    }
    const decision = evaluateConsent(
      options.consent,
      { ...options.request, at },
      options.consentOptions ?? {},
    );
    return decision.decision === 'permit' ? null : { code: decision.code, reason: decision.reason };
  }

  /** A release is audited or not made; a refusal is audited best-effort and refused either way. */
  private async audit(event: Omit<RecordAccessEvent, 'at'>, required: boolean): Promise<void> {
    if (!this.onAccess) return;
    try {
      await this.onAccess({ ...event, at: this.now() });
    } catch (cause) {
      if (required) {
        throw new RecordError(
          'MR_ERR_RECORD_AUDIT',
          `record ${event.recordId}: access could not be audited`,
          {
            details: { recordId: event.recordId },
            cause,
          },
        );
      }
    }
  }

  private async serial<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => {});
    this.locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(id) === tail) this.locks.delete(id);
    }
  }

  private async read(id: Hex, required: true): Promise<StoredEnvelope>;
  private async read(id: Hex, required: false): Promise<StoredEnvelope | null>;
  private async read(id: Hex, required: boolean): Promise<StoredEnvelope | null> {
    let text: string;
    try {
      text = await readFile(this.path(id), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (!required) return null;
      throw new RecordError('MR_ERR_RECORD_NOT_FOUND', `no record ${id} in the vault`, {
        details: { recordId: id },
      });
    }
    let env: unknown;
    try {
      env = JSON.parse(text);
    } catch (cause) {
      throw new RecordError('MR_ERR_RECORD_TAMPERED', `record ${id}: envelope is not valid JSON`, {
        details: { recordId: id },
        cause,
      });
    }
    const e = env as Partial<StoredEnvelope> | null;
    // The file name is the id the caller asked for; an envelope of another record under it was moved or forged.
    if (
      typeof e !== 'object' ||
      e === null ||
      e.version !== 1 ||
      e.recordId !== id ||
      typeof e.recordHash !== 'string' ||
      !RECORD_ID_RE.test(e.recordHash) ||
      typeof e.wrappedKeys !== 'object' ||
      e.wrappedKeys === null ||
      (e.patient !== undefined && (typeof e.patient !== 'string' || !RECORD_ID_RE.test(e.patient)))
    ) {
      throw new RecordError('MR_ERR_RECORD_TAMPERED', `record ${id}: envelope is malformed`, {
        details: { recordId: id },
      });
    }
    return e as StoredEnvelope;
  }

  private async write(id: Hex, env: StoredEnvelope, mode: 'create' | 'replace'): Promise<void> {
    const final = this.path(id);
    const tmp = join(this.dir, `.${id.slice(2)}.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(tmp, 'wx', 0o600);
    try {
      await fh.writeFile(JSON.stringify(env));
      await fh.sync(); // data on disk before the name points at it
    } finally {
      await fh.close();
    }
    try {
      if (mode === 'create') {
        try {
          await link(tmp, final); // fails with EEXIST instead of overwriting
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          throw new RecordError('MR_ERR_RECORD_EXISTS', `record ${id} is already in the vault`, {
            details: { recordId: id },
          });
        }
      } else {
        await rename(tmp, final);
      }
    } finally {
      await unlink(tmp).catch(() => {}); // after link the temp name is a second link; after rename it is gone
    }
    await this.syncDir();
  }

  /** Makes the new directory entry durable; a no-op where directories cannot be fsynced. */
  private async syncDir(): Promise<void> {
    let dh: Awaited<ReturnType<typeof open>> | undefined;
    try {
      dh = await open(this.dir, 'r');
      await dh.sync();
    } catch {
      // EISDIR / EPERM on some platforms: the rename is still atomic, only its durability is weaker.
    } finally {
      await dh?.close();
    }
  }
}
