/**
 * Devnet fixtures for claims and settlement (demo, e2e tests, benches): a diagnosis Bundle of the devnet patient
 * anchored by the devnet hospital with a salted disclosure tree, and the devnet patient's insurance policy.
 * The Bundle stays in this process: only its hash and disclosure root go on chain.
 */
import { randomBytes } from 'node:crypto';
import { Contract, type InterfaceAbi, type JsonRpcProvider, NonceManager, Wallet } from 'ethers';
import { bytesToHex, type Hex } from '../../../proofs/bytes.js';
import { recordHash } from '../../../proofs/records/anchor.js';
import { buildDisclosureTree, type DisclosureTree } from '../../../proofs/records/disclosure.js';
import type { Policy } from '../../../proofs/settlement/policy.js';
import { loadArtifact } from '../contracts/artifacts.js';
import { DEV_ACCOUNT, devKey, devnetSignedAnchor } from './network.js';

export const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
/** Path of the diagnosis Coding in {@link devnetDiagnosisBundle}. */
export const DEVNET_DIAGNOSIS_PATH = 'Bundle.entry[1].resource.Condition.code.coding[0]';
/** Text id of the devnet patient's policy (its on-chain id is keccak256 of it). */
export const DEVNET_POLICY_ID = 'devnet-gba-health-2026';

/** A small encounter Bundle: the patient and one Condition with an ICD-10 code. */
export function devnetDiagnosisBundle(code: string, display = 'diagnosis'): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'collection',
    entry: [
      { resource: { resourceType: 'Patient', id: `p-${randomBytes(4).toString('hex')}`, gender: 'female' } },
      {
        resource: {
          resourceType: 'Condition',
          id: 'c1',
          code: { coding: [{ system: ICD10, code, display }] },
          recordedDate: new Date().toISOString().slice(0, 10),
        },
      },
    ],
  };
}

export interface DevnetClaimRecord {
  recordId: Hex;
  tree: DisclosureTree;
  code: string;
}

/**
 * Anchors {@link devnetDiagnosisBundle}(`code`) on `chainId` for the devnet patient, signed by the devnet hospital
 * (`RecordRegistry.anchorSigned`), so a claim can disclose its diagnosis.
 */
export async function anchorDevnetDiagnosis(
  provider: JsonRpcProvider,
  chainId: number,
  recordRegistry: string,
  code: string,
): Promise<DevnetClaimRecord> {
  const bundle = devnetDiagnosisBundle(code);
  const tree = buildDisclosureTree(bundle);
  const recordId = bytesToHex(randomBytes(32)) as Hex;
  const registry = new Contract(
    recordRegistry,
    loadArtifact('RecordRegistry').abi as InterfaceAbi,
    new NonceManager(new Wallet(devKey(DEV_ACCOUNT.hospital), provider)),
  );
  const [anchor, signature] = devnetSignedAnchor(
    chainId,
    recordId,
    bytesToHex(recordHash(bundle)),
    tree.root,
  );
  await (await registry.getFunction('anchorSigned')(anchor, signature)).wait();
  return { recordId, tree, code };
}

/**
 * The devnet patient's policy, in CNY: covers hypertension (I10) and type 2 diabetes (E11.9), excludes cosmetic
 * surgery follow-up (Z41.1); deductible CNY 500.00, co-pay 10 %, CNY 20 000.00 per claim, CNY 100 000.00 a year;
 * valid from a year ago for two years.
 */
export function devnetPolicy(now = Math.floor(Date.now() / 1000)): Policy {
  const cny = (minor: bigint) => ({ currency: 'CNY' as const, minor });
  return {
    policyId: DEVNET_POLICY_ID,
    currency: 'CNY',
    coveredCodes: [
      { system: ICD10, code: 'I10' },
      { system: ICD10, code: 'E11.9' },
    ],
    excludedCodes: [{ system: ICD10, code: 'Z41.1' }],
    perClaimLimit: cny(2_000_000n),
    deductible: cny(50_000n),
    coPayBasisPoints: 1_000,
    annualCap: cny(10_000_000n),
    validFrom: now - 365 * 86_400,
    validUntil: now + 365 * 86_400,
  };
}
