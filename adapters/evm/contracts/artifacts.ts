/**
 * Loads compiled contract artifacts written by `npm run build` (adapters/evm/contracts/build.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { InterfaceAbi } from 'ethers';

const BUILD_DIR = join(dirname(fileURLToPath(import.meta.url)), 'build');

export interface Artifact {
  abi: InterfaceAbi;
  bytecode: string;
}

/** Names of the deployable contracts (artifacts with bytecode). */
export type ContractName =
  | 'QbftLightClient'
  | 'Outbox'
  | 'Inbox'
  | 'RecordRegistry'
  | 'RecordProofSender'
  | 'RecordProofStore'
  | 'NoopReceiver'
  | 'ConsentRegistry'
  | 'ConsentMirror'
  | 'DisclosureVerifier'
  | 'CodeMapRegistry'
  | 'AuditLog'
  | 'ReferralGateway'
  | 'DepositToken'
  | 'SettlementGateway'
  | 'ClaimSubmitter'
  | 'ClaimSettlement';

const cache = new Map<string, Artifact>();

/** `{ abi, bytecode }` of contract `name`; throws telling to run `npm run build` if it was not compiled. */
export function loadArtifact(name: ContractName | (string & {})): Artifact {
  const hit = cache.get(name);
  if (hit) return hit;
  const file = join(BUILD_DIR, `${name}.json`);
  if (!existsSync(file)) {
    throw new Error(
      `contract artifact ${name} not found at ${file}: run \`npm run build\` to compile the contracts`,
    );
  }
  const json = JSON.parse(readFileSync(file, 'utf8')) as { abi?: InterfaceAbi; bytecode?: string };
  if (!Array.isArray(json.abi) || typeof json.bytecode !== 'string') {
    throw new Error(`contract artifact ${file} is malformed: run \`npm run build\` again`);
  }
  const artifact = { abi: json.abi, bytecode: json.bytecode };
  cache.set(name, artifact);
  return artifact;
}
