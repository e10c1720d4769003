/**
 * Insurer (or any record-proof recipient) client: verifies a selective disclosure locally first — multiproof
 * against the disclosure root the RecordProofStore holds, code systems, and the data dictionary the disclosure
 * names (known url + version, hash as anchored in the CodeMapRegistry, every disclosed code of a mapped system
 * mapped) — then on chain with `DisclosureVerifier.verifyDisclosure`; and fetches records from the vault
 * (consent check, decryption, hash check), refusals surfacing as typed errors.
 */
import type { Hex } from '../../../proofs/bytes.js';
import type { Consent } from '../../../proofs/consent/consent.js';
import type { ConsentRequest, EvaluateOptions } from '../../../proofs/consent/evaluate.js';
import {
  type ConceptMap,
  codeMapHash,
  type Disclosure,
  parseConceptMap,
  type Translation,
  translate,
  verifyDisclosure,
} from '../../../proofs/records/index.js';
import type { RecordVault } from '../../../relayer/records/vault.js';
import { address, bytes32, ChainClient, type ChainConnection, ZERO32 } from './chain.js';
import { ClientError, clientConfig, clientInput } from './errors.js';

export interface InsurerContracts {
  disclosureVerifier?: string;
  /** @defaultValue `DisclosureVerifier.store()` */
  recordProofStore?: string;
  /** When set, a disclosure's code map must be anchored there with the same hash. */
  codeMapRegistry?: string;
}

export interface RecordReader {
  /** FHIR reference of the reader (the consent's recipient and the vault wrap id). */
  id: string;
  /** Its X25519 private key (raw 32 bytes). */
  privateKey: Uint8Array;
}

export interface InsurerClientOptions extends ChainConnection {
  contracts: InsurerContracts;
  /** Data dictionaries this verifier holds (FHIR ConceptMaps). */
  codeMaps?: readonly ConceptMap[];
  vault?: RecordVault;
  reader?: RecordReader;
}

export interface VerifiedDisclosure {
  recordId: Hex;
  elements: { path: string; value: string }[];
  /** Per disclosed coding of a system the code map covers: its translations. */
  translations: { path: string; system: string; code: string; target: string; to: Translation[] }[];
  disclosureHash: Hex;
  txHash: Hex;
}

export interface FetchedRecord {
  bytes: Uint8Array;
  resource: unknown;
}

const CODING_RE = /^(.*\.coding\[(?:0|[1-9][0-9]*)\])\.(code|system)$/;

export class InsurerClient {
  readonly chain: ChainClient;
  private readonly contracts: InsurerContracts;
  private readonly codeMaps: readonly ConceptMap[];
  private readonly vault: RecordVault | undefined;
  private readonly reader: RecordReader | undefined;
  private storeAddress: string | undefined;

  constructor(opts: InsurerClientOptions) {
    this.chain = new ChainClient(opts);
    this.contracts = opts.contracts ?? {};
    for (const k of ['disclosureVerifier', 'recordProofStore', 'codeMapRegistry'] as const) {
      const a = this.contracts[k];
      if (a !== undefined) address(a, `contracts.${k}`);
    }
    this.codeMaps = (opts.codeMaps ?? []).map((m) => parseConceptMap(m));
    this.vault = opts.vault;
    this.reader = opts.reader;
  }

  private async store(): Promise<string> {
    if (this.storeAddress) return this.storeAddress;
    if (this.contracts.recordProofStore) this.storeAddress = this.contracts.recordProofStore;
    else {
      const v = this.contracts.disclosureVerifier ?? clientConfig('contracts.disclosureVerifier');
      this.storeAddress = String((await this.chain.read(v, 'DisclosureVerifier', 'store', []))[0]);
    }
    return this.storeAddress;
  }

  /** The record proof the RecordProofStore holds for `recordId`. @throws MR_ERR_CLIENT_NOT_FOUND */
  async recordProof(
    recordId: string,
  ): Promise<{ disclosureRoot: Hex; recordHash: Hex; patient: Hex; sourceChain: bigint }> {
    const id = bytes32(recordId, 'recordId');
    const p = (await this.chain.read(await this.store(), 'RecordProofStore', 'getRecordProof', [id]))[0] as {
      packetId: string;
      disclosureRoot: string;
      sha256Hash: string;
      patient: string;
      sourceChain: bigint;
    };
    if (String(p.packetId).toLowerCase() === ZERO32)
      throw new ClientError('MR_ERR_CLIENT_NOT_FOUND', `no record proof for record ${id}`, {
        details: { recordId: id },
      });
    return {
      disclosureRoot: p.disclosureRoot.toLowerCase() as Hex,
      recordHash: p.sha256Hash.toLowerCase() as Hex,
      patient: p.patient.toLowerCase() as Hex,
      sourceChain: BigInt(p.sourceChain),
    };
  }

  /** Checks the code map a disclosure names and maps its codings; returns the translations. */
  private async checkCodeMap(
    d: Disclosure,
    elements: { path: string; value: string }[],
  ): Promise<VerifiedDisclosure['translations']> {
    if (d.codeMap === undefined) return [];
    const { id, version, hash } = d.codeMap;
    const refuse = (why: string): never => {
      throw new ClientError('MR_ERR_CODEMAP_UNKNOWN', `code map ${id}|${version}: ${why}`, {
        details: { map: id, version },
      });
    };
    const map =
      this.codeMaps.find((m) => m.url === id && m.version === version) ??
      refuse('not a data dictionary this verifier holds (unknown url or version)');
    if (codeMapHash(map) !== hash.toLowerCase())
      refuse('the hash does not match the map held for this version');
    if (this.contracts.codeMapRegistry) {
      const anchored = String(
        (
          await this.chain.read(this.contracts.codeMapRegistry, 'CodeMapRegistry', 'codeMap', [id, version])
        )[0],
      ).toLowerCase();
      if (anchored === ZERO32) refuse('this version is not anchored in the CodeMapRegistry');
      if (anchored !== hash.toLowerCase()) refuse('anchored with another hash');
    }
    const codings = new Map<string, { code?: string; system?: string }>();
    for (const e of elements) {
      const m = CODING_RE.exec(e.path);
      if (!m) continue;
      const entry = codings.get(m[1]!) ?? {};
      entry[m[2] as 'code' | 'system'] = JSON.parse(e.value) as string;
      codings.set(m[1]!, entry);
    }
    const out: VerifiedDisclosure['translations'] = [];
    for (const [prefix, { code, system }] of codings) {
      if (typeof code !== 'string' || typeof system !== 'string') continue;
      const targets = [...new Set(map.group.filter((g) => g.source === system).map((g) => g.target))];
      // A coding of a system the map covers must be mapped: translate throws MR_ERR_CODEMAP_UNMAPPED otherwise.
      for (const target of targets)
        out.push({
          path: `${prefix}.code`,
          system,
          code,
          target,
          to: translate(map, { system, code }, target),
        });
    }
    return out;
  }

  /**
   * Verifies a disclosure of record `recordId` locally, then on chain (which logs `DisclosureVerified`).
   *
   * @throws ProofError MR_ERR_DISCLOSURE_* | MR_ERR_CODE_FORMAT | MR_ERR_CODEMAP_UNMAPPED; ClientError
   *   MR_ERR_CODEMAP_UNKNOWN | MR_ERR_CLIENT_NOT_FOUND | MR_ERR_CLIENT_REVERTED
   */
  async verifyDisclosure(
    recordId: string,
    disclosure: Disclosure,
    opts: { strictCodeSystems?: boolean } = {},
  ): Promise<VerifiedDisclosure> {
    const verifier = this.contracts.disclosureVerifier ?? clientConfig('contracts.disclosureVerifier');
    const id = bytes32(recordId, 'recordId');
    if (typeof disclosure !== 'object' || disclosure === null)
      clientInput('disclosure', 'a disclosure object');
    const { disclosureRoot } = await this.recordProof(id);
    const elements = verifyDisclosure(disclosureRoot, disclosure, {
      ...(disclosure.recordId !== undefined ? { recordId: id } : {}),
      strictCodeSystems: opts.strictCodeSystems === true,
    });
    const translations = await this.checkCodeMap(disclosure, elements);
    const tx = await this.chain.write(verifier, 'DisclosureVerifier', 'verifyDisclosure', [
      id,
      disclosure.elements.map((e) => ({ salt: e.salt, path: e.path, value: e.value })),
      disclosure.proof,
      disclosure.proofFlags,
    ]);
    const ev = tx.events.find((e) => e.name === 'DisclosureVerified');
    return {
      recordId: id,
      elements,
      translations,
      disclosureHash: String(ev?.args.disclosureHash ?? ZERO32).toLowerCase() as Hex,
      txHash: tx.txHash,
    };
  }

  /**
   * Fetches and decrypts a record from the vault as `reader` under `consent` (the vault checks the consent at
   * its own clock, decrypts, checks the record hash and audits the access).
   *
   * @throws RecordError MR_ERR_RECORD_ACCESS_DENIED | MR_ERR_RECORD_TAMPERED | MR_ERR_RECORD_KEY |
   *   MR_ERR_RECORD_NOT_FOUND | MR_ERR_RECORD_AUDIT; ClientError MR_ERR_CLIENT_CONFIG
   */
  async fetchRecord(
    recordId: string,
    consent: Consent,
    request: Omit<ConsentRequest, 'at' | 'actor'> & { actor?: string },
    consentOptions?: EvaluateOptions,
  ): Promise<FetchedRecord> {
    const vault = this.vault ?? clientConfig('vault');
    const reader = this.reader ?? clientConfig('reader (recipient id and key)');
    const id = bytes32(recordId, 'recordId');
    const bytes = await vault.fetch(id, {
      recipientId: reader.id,
      recipientPrivateKey: reader.privateKey,
      consent,
      request: { ...request, actor: request.actor ?? reader.id },
      ...(consentOptions ? { consentOptions } : {}),
    });
    return { bytes, resource: JSON.parse(new TextDecoder().decode(bytes)) as unknown };
  }
}

/** A record reader for any recipient (a receiving hospital uses the same vault path as an insurer). */
export function recordReader(opts: InsurerClientOptions): InsurerClient {
  return new InsurerClient(opts);
}
