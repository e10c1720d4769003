/**
 * Hospital (institution) client: anchors FHIR records (JCS → sha256 → salted disclosure tree → patient pseudonym
 * → EIP-712 institution signature → `RecordRegistry.anchorSigned` → encrypted vault envelope), grants and
 * revokes consents (`ConsentRegistry`), shares record proofs, refers patients (`ReferralGateway.refer`), logs
 * accesses, and on the receiving side looks a referral up and verifies it locally.
 *
 * Every argument is checked before anything is signed, sent or stored, and contract calls are simulated first,
 * so bad input or a call the contract would refuse throws a typed error with nothing written.
 */
import { randomBytes } from 'node:crypto';
import { keccak256, toUtf8Bytes } from 'ethers';
import { bytesToHex, type Hex } from '../../../proofs/bytes.js';
import {
  type Consent,
  isParsedConsent,
  parseConsent,
  periodBounds,
} from '../../../proofs/consent/consent.js';
import { consentHash } from '../../../proofs/consent/evaluate.js';
import {
  type Anchor,
  buildDisclosureTree,
  canonicalBytes,
  type DisclosureTree,
  patientPseudonym,
  recordHash,
  signAnchor,
  verifyAnchorSignature,
} from '../../../proofs/records/index.js';
import { checkRecipientId, type Recipient } from '../../../relayer/records/crypto.js';
import type { RecordVault } from '../../../relayer/records/vault.js';
import {
  address,
  bytes32,
  ChainClient,
  type ChainConnection,
  contractInterface,
  referenceHash,
  refOrHash,
  uint64,
  type WriteResult,
} from './chain.js';
import { ClientError, clientConfig, clientInput } from './errors.js';
import { type ChainAnchor, decodeReferralPayload, deliveredPacket } from './packets.js';

export interface HospitalContracts {
  recordRegistry: string;
  consentRegistry?: string;
  recordProofSender?: string;
  referralGateway?: string;
  /** This chain's ConsentMirror (receiving side: referral consent checks). */
  consentMirror?: string;
}

export interface HospitalClientOptions extends ChainConnection {
  /** The institution's key: signs anchors and sends its transactions. */
  privateKey: string;
  contracts: HospitalContracts;
  /** Where anchored records are stored, encrypted for their recipients. */
  vault?: RecordVault;
}

export interface PatientIdentifier {
  system: string;
  value: string;
}

export interface AnchorRecordOptions {
  /** 32 bytes held by the patient and the hospital (records.md pseudonym key). */
  patientSecret: Uint8Array;
  patientIdentifier: PatientIdentifier;
  /** Vault recipients (the hospital itself usually among them). */
  recipients: readonly Recipient[];
  /** @defaultValue 32 random bytes */
  recordId?: string;
}

export interface AnchoredRecord {
  recordId: Hex;
  anchor: ChainAnchor;
  signature: Hex;
  /** Keep with the holder: the salts are what keeps undisclosed elements secret. */
  tree: DisclosureTree;
  pseudonym: Hex;
  txHash: Hex;
}

export interface GrantConsentOptions {
  /** Chain whose ConsentMirror receives the grant (the route must be set on the ConsentRegistry). */
  destChain: bigint | number;
  /** The patient's revocation key (secp256k1 address), for `revokeBySignature`. */
  patientKey: string;
  /** Recipient FHIR reference; @defaultValue the consent's single IRCP actor */
  recipient?: string;
}

export interface GrantedConsent {
  consentId: Hex;
  consentHash: Hex;
  patient: Hex;
  recipient: Hex;
  validFrom: bigint;
  validUntil: bigint;
  packetId: Hex;
  txHash: Hex;
}

export interface SendRecordProofOptions {
  channel: string;
  receiver: string;
  recordId: string;
  consentId: string;
  /** Destination timestamp after which the proof is refused; 0 = none. @defaultValue 0 */
  timeoutTimestamp?: bigint | number;
}

export interface ReceivedReferral {
  referralId: Hex;
  status: number;
  anchor: ChainAnchor;
  signature: Hex;
  consentId: Hex;
  toInstitution: Hex;
  sourceChain: bigint;
  packetId: Hex;
  deliveryTx: Hex;
}

export interface VerifiedReferral extends ReceivedReferral {
  consentHash: Hex;
}

const UINT64_MAX = (1n << 64n) - 1n;
const REFERRAL_STATUS = { None: 0, Sent: 1, Delivered: 2, Failed: 3, Received: 4, Accepted: 5 } as const;
const CONSENT_ACTIVE = 0n;

/** On-chain id of a FHIR Consent: keccak256(utf8("Consent/" + id)). */
export function consentIdOf(consent: Pick<Consent, 'id'>): Hex {
  if (typeof consent?.id !== 'string' || consent.id.length === 0) clientInput('consent.id', 'a FHIR id');
  return keccak256(toUtf8Bytes(`Consent/${consent.id}`)) as Hex;
}

/** The pseudonym a consent is about (`Patient/<64 hex>`), 0x-hex. */
export function consentPatient(consent: Consent): Hex {
  const ref = consent.patient?.reference;
  if (typeof ref !== 'string' || !/^Patient\/[0-9a-f]{64}$/.test(ref))
    clientInput('consent.patient', 'Patient/<pseudonym, 64 lowercase hex> (never an MRN)');
  return `0x${ref.slice('Patient/'.length)}` as Hex;
}

/** The single information-recipient actor of a consent's root provision. */
export function consentRecipient(consent: Consent): string {
  const refs = (consent.provision.actor ?? [])
    .filter((a) => a.role?.coding?.some((c) => c.code === 'IRCP' || c.code === 'PRCP'))
    .map((a) => a.reference?.reference)
    .filter((r): r is string => typeof r === 'string');
  if (refs.length !== 1) clientInput('recipient', 'one recipient (the consent names none or several)');
  return refs[0]!;
}

function checkConsent(consent: unknown): Consent {
  return isParsedConsent(consent) ? consent : parseConsent(consent);
}

export class HospitalClient {
  readonly chain: ChainClient;
  readonly contracts: HospitalContracts;
  private readonly vault: RecordVault | undefined;

  constructor(opts: HospitalClientOptions) {
    if (typeof opts?.privateKey !== 'string') clientInput('privateKey', 'the institution key');
    this.chain = new ChainClient(opts);
    address(opts.contracts?.recordRegistry, 'contracts.recordRegistry');
    this.contracts = opts.contracts;
    this.vault = opts.vault;
  }

  /** The institution's address (the signer of its anchors). */
  get institution(): Hex {
    return this.chain.address;
  }

  private need(name: keyof HospitalContracts): string {
    const a = this.contracts[name];
    if (!a) clientConfig(`contracts.${name}`);
    return address(a, `contracts.${name}`);
  }

  /**
   * Anchors a FHIR resource for a patient and stores it, encrypted, for `recipients`.
   *
   * @example
   * const { recordId, tree } = await hospital.anchorRecord(bundle, { patientSecret, patientIdentifier: { system, value },
   *   recipients: [{ id: 'Organization/hospital-a', publicKey }, { id: 'Organization/hospital-b', publicKey: bKey }] });
   * @throws ProofError MR_ERR_FHIR_INVALID | MR_ERR_PSEUDONYM_INPUT; ClientError MR_ERR_CLIENT_INPUT |
   *   MR_ERR_CLIENT_REVERTED (e.g. NotInstitution) | MR_ERR_CLIENT_CONFIG; RecordError MR_ERR_RECORD_EXISTS
   */
  async anchorRecord(resource: unknown, opts: AnchorRecordOptions): Promise<AnchoredRecord> {
    const vault = this.vault ?? clientConfig('vault');
    const registry = this.need('recordRegistry');
    if (typeof opts !== 'object' || opts === null) clientInput('options', 'anchor options');
    const id = opts.patientIdentifier;
    if (typeof id !== 'object' || id === null) clientInput('patientIdentifier', '{ system, value }');
    if (!Array.isArray(opts.recipients) || opts.recipients.length === 0)
      clientInput('recipients', 'at least one vault recipient');
    for (const [i, r] of opts.recipients.entries()) {
      checkRecipientId(r?.id, `recipients[${i}].id`);
      if (!(r.publicKey instanceof Uint8Array) || r.publicKey.length !== 32)
        clientInput(`recipients[${i}].publicKey`, '32 raw X25519 bytes');
    }
    const recordId =
      opts.recordId === undefined ? bytesToHex(randomBytes(32)) : bytes32(opts.recordId, 'recordId');
    // Pure checks first (FHIR, pseudonym input): throw before anything is written.
    const hash = bytesToHex(recordHash(resource));
    const bytes = canonicalBytes(resource);
    const pseudonym = patientPseudonym(opts.patientSecret, id.system, id.value);
    const tree = buildDisclosureTree(resource);
    if (await vault.has(recordId))
      throw new ClientError('MR_ERR_CLIENT_INPUT', `recordId ${recordId} is already in the vault`, {
        details: { field: 'recordId' },
      });
    const anchor: ChainAnchor = {
      recordId,
      recordHash: hash,
      disclosureRoot: tree.root,
      patient: pseudonym,
      institution: this.institution,
      anchoredAt: (await this.chain.latestTimestamp()) - 1n,
    };
    const signature = signAnchor(anchor, this.chain.chainId, this.chain.privateKey);
    const tx = await this.chain.write(registry, 'RecordRegistry', 'anchorSigned', [anchor, signature]);
    await vault.put(recordId, bytes, hash, opts.recipients, { patient: pseudonym });
    return { recordId, anchor, signature, tree, pseudonym, txHash: tx.txHash };
  }

  /**
   * Records a validated FHIR Consent on chain (`ConsentRegistry.grantTo`) with its JCS sha256 and validity period,
   * sent to `destChain`'s ConsentMirror.
   *
   * @throws ProofError MR_ERR_CONSENT_*; ClientError MR_ERR_CLIENT_INPUT | MR_ERR_CLIENT_REVERTED (ConsentExists,
   *   NoRoute, NotInstitution…)
   */
  async grantConsent(consent: unknown, opts: GrantConsentOptions): Promise<GrantedConsent> {
    const registry = this.need('consentRegistry');
    const c = checkConsent(consent);
    if (typeof opts !== 'object' || opts === null) clientInput('options', '{ destChain, patientKey }');
    const destChain = uint64(opts.destChain, 'destChain');
    const patientKey = address(opts.patientKey, 'patientKey');
    if (c.status !== 'active') clientInput('consent.status', 'active');
    const patient = consentPatient(c);
    const recipient = referenceHash(opts.recipient ?? consentRecipient(c));
    const bounds = periodBounds(c.provision.period);
    if (!Number.isFinite(bounds.start) || !Number.isFinite(bounds.end))
      clientInput('consent.provision.period', 'a start and an end');
    const validFrom = BigInt(Math.max(0, Math.floor(bounds.start / 1000)));
    let validUntil = BigInt(Math.floor(bounds.end / 1000)) + 1n; // inclusive end → exclusive second
    if (validUntil > UINT64_MAX) validUntil = UINT64_MAX;
    const consentId = consentIdOf(c);
    const hash = consentHash(c);
    const tx = await this.chain.write(registry, 'ConsentRegistry', 'grantTo', [
      destChain,
      consentId,
      patient,
      patientKey,
      recipient,
      hash,
      validFrom,
      validUntil,
    ]);
    const ev = tx.events.find((e) => e.name === 'ConsentGranted');
    return {
      consentId,
      consentHash: hash,
      patient,
      recipient,
      validFrom,
      validUntil,
      packetId: String(ev?.args.packetId ?? '0x').toLowerCase() as Hex,
      txHash: tx.txHash,
    };
  }

  /** Revokes a consent this institution granted (the revocation is sent where the grant went). */
  async revokeConsent(consentId: string): Promise<{ packetId: Hex; txHash: Hex }> {
    const registry = this.need('consentRegistry');
    const tx = await this.chain.write(registry, 'ConsentRegistry', 'revoke', [
      bytes32(consentId, 'consentId'),
    ]);
    const ev = tx.events.find((e) => e.name === 'ConsentRevoked');
    return { packetId: String(ev?.args.packetId ?? '0x').toLowerCase() as Hex, txHash: tx.txHash };
  }

  /** Shares a signed anchor as a RECORD_PROOF (RecordProofSender). */
  async sendRecordProof(
    o: SendRecordProofOptions,
  ): Promise<{ packetId: Hex; sequence: bigint; txHash: Hex }> {
    const sender = this.need('recordProofSender');
    if (typeof o !== 'object' || o === null) clientInput('options', 'record proof options');
    const tx = await this.chain.write(sender, 'RecordProofSender', 'sendRecordProof', [
      bytes32(o.channel, 'channel'),
      address(o.receiver, 'receiver'),
      bytes32(o.recordId, 'recordId'),
      bytes32(o.consentId, 'consentId'),
      uint64(o.timeoutTimestamp ?? 0n, 'timeoutTimestamp'),
    ]);
    const ev = tx.events.find((e) => e.name === 'RecordProofSent');
    return {
      packetId: String(ev?.args.id ?? '0x').toLowerCase() as Hex,
      sequence: BigInt(ev?.args.sequence ?? 0n),
      txHash: tx.txHash,
    };
  }

  /**
   * Refers the patient of `recordId` to `toInstitution` (FHIR reference or its hash) on `destChain`.
   *
   * @throws ClientError MR_ERR_CLIENT_INPUT | MR_ERR_CLIENT_REVERTED (ReferralExists, NotRecordInstitution, NoRoute…)
   */
  async refer(
    referralId: string,
    recordId: string,
    consentId: string,
    destChain: bigint | number,
    toInstitution: string,
  ): Promise<{ packetId: Hex; txHash: Hex; submittedAt: number }> {
    const gw = this.need('referralGateway');
    const args = [
      bytes32(referralId, 'referralId'),
      bytes32(recordId, 'recordId'),
      bytes32(consentId, 'consentId'),
      uint64(destChain, 'destChain'),
      refOrHash(toInstitution, 'toInstitution'),
    ];
    const submittedAt = Date.now();
    const tx = await this.chain.write(gw, 'ReferralGateway', 'refer', args);
    const ev = tx.events.find((e) => e.name === 'ReferralSent');
    return {
      packetId: String(ev?.args.packetId ?? '0x').toLowerCase() as Hex,
      txHash: tx.txHash,
      submittedAt,
    };
  }

  /** Logs an access to an anchored record (accessor and purpose: bytes32 or FHIR references, hashed). */
  async logAccess(recordId: string, accessor: string, purpose: string): Promise<WriteResult> {
    const registry = this.need('recordRegistry');
    const purposeId =
      typeof purpose === 'string' && /^0x[0-9a-fA-F]{64}$/.test(purpose)
        ? (purpose.toLowerCase() as Hex)
        : typeof purpose === 'string' && /^[A-Za-z0-9.-]{1,64}$/.test(purpose)
          ? (keccak256(toUtf8Bytes(purpose)) as Hex)
          : clientInput('purpose', 'bytes32 or a purpose code such as TREAT');
    return this.chain.write(registry, 'RecordRegistry', 'logAccess', [
      bytes32(recordId, 'recordId'),
      refOrHash(accessor, 'accessor'),
      purposeId,
    ]);
  }

  /**
   * Receiving side: the referral `referralId` as delivered to this chain, with the signed anchor and consent id
   * it carried (decoded from the delivering transaction).
   *
   * @throws ClientError MR_ERR_CLIENT_NOT_FOUND when this chain has not received it
   */
  async receivedReferral(referralId: string): Promise<ReceivedReferral> {
    const gw = this.need('referralGateway');
    const id = bytes32(referralId, 'referralId');
    const r = (await this.chain.read(gw, 'ReferralGateway', 'referral', [id]))[0] as {
      status: bigint;
      packetId: string;
      peerChain: bigint;
    };
    const status = Number(r.status);
    if (status !== REFERRAL_STATUS.Received && status !== REFERRAL_STATUS.Accepted)
      throw new ClientError('MR_ERR_CLIENT_NOT_FOUND', `referral ${id} has not been received on this chain`, {
        details: { referralId: id, status },
      });
    const topic = contractInterface('ReferralGateway').getEvent('ReferralReceived')!.topicHash;
    const logs = await this.chain.logs(gw, [topic, id]);
    const log = logs.find((l) => !l.removed);
    if (!log)
      throw new ClientError('MR_ERR_CLIENT_NOT_FOUND', `no ReferralReceived event for referral ${id}`, {
        details: { referralId: id },
      });
    const packet = await deliveredPacket(this.chain.rpc, log.transactionHash, r.packetId);
    if (!packet)
      throw new ClientError(
        'MR_ERR_CLIENT_NOT_FOUND',
        `delivery transaction of referral ${id} not readable`,
        {
          details: { referralId: id },
        },
      );
    const p = decodeReferralPayload(packet.payload);
    if (p.referralId !== id)
      throw new ClientError(
        'MR_ERR_CLIENT_VERIFY',
        `referral ${id}: delivered packet names another referral`,
        {
          details: { referralId: id },
        },
      );
    return {
      referralId: id,
      status,
      anchor: p.anchor,
      signature: p.signature,
      consentId: p.consentId,
      toInstitution: p.toInstitution,
      sourceChain: packet.sourceChain,
      packetId: String(r.packetId).toLowerCase() as Hex,
      deliveryTx: log.transactionHash,
    };
  }

  /**
   * Receiving side: looks the referral up and checks locally that the anchor is signed by its institution under
   * the source chain's EIP-712 domain, that `consent` is the consent it names (id and JCS hash as mirrored), is
   * about the anchor's patient, names `recipient`, and is active in this chain's ConsentMirror now.
   *
   * @throws ClientError MR_ERR_CLIENT_VERIFY | MR_ERR_CLIENT_NOT_FOUND; ProofError MR_ERR_ANCHOR_SIGNATURE
   */
  async verifyReferral(referralId: string, consent: unknown, recipient: string): Promise<VerifiedReferral> {
    const mirror = this.need('consentMirror');
    const c = checkConsent(consent);
    const recipientRef = referenceHash(recipient);
    const ref = await this.receivedReferral(referralId);
    const fail = (what: string): never => {
      throw new ClientError('MR_ERR_CLIENT_VERIFY', `referral ${ref.referralId}: ${what}`, {
        details: { referralId: ref.referralId },
      });
    };
    verifyAnchorSignature(ref.anchor as Anchor, ref.sourceChain, ref.signature);
    if (ref.toInstitution !== recipientRef) fail('addressed to another institution');
    if (consentIdOf(c) !== ref.consentId) fail('the consent given is not the one the referral names');
    if (consentPatient(c) !== ref.anchor.patient) fail("the consent is not about the record's patient");
    const hash = consentHash(c);
    const mirrored = (await this.chain.read(mirror, 'ConsentMirror', 'getConsent', [ref.consentId]))[0] as {
      consentHash: string;
    };
    if (String(mirrored.consentHash).toLowerCase() !== hash)
      fail('the consent does not hash to the mirrored one');
    const now = await this.chain.latestTimestamp();
    const status = (
      await this.chain.read(mirror, 'ConsentMirror', 'check', [
        ref.consentId,
        ref.sourceChain,
        ref.anchor.patient,
        recipientRef,
        now,
      ])
    )[0] as bigint;
    if (BigInt(status) !== CONSENT_ACTIVE) fail(`the consent is not active (mirror status ${status})`);
    return { ...ref, consentHash: hash };
  }

  /** Receiving side: accepts a received referral (anchors an audit entry through the gateway). */
  async acceptReferral(referralId: string): Promise<WriteResult> {
    return this.chain.write(this.need('referralGateway'), 'ReferralGateway', 'acceptReferral', [
      bytes32(referralId, 'referralId'),
    ]);
  }
}
