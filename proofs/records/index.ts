/**
 * Medical-record proofs (docs/records.md): RFC 8785 canonical JSON, FHIR R4 structure checks, record anchors
 * with EIP-712 institution signatures, salted-Merkle selective disclosure, code-system checks and ConceptMap
 * data dictionaries. Everything here is pure (no I/O) and throws `ProofError` with a stable `MR_ERR_*` code.
 */
export {
  ANCHOR_DOMAIN,
  ANCHOR_TYPE,
  type Anchor,
  anchorDigest,
  anchorDomainSeparator,
  anchorStructHash,
  checksumAddress,
  EIP712_DOMAIN_TYPE,
  patientPseudonym,
  recordHash,
  signAnchor,
  verifyAnchorSignature,
} from './anchor.js';
export {
  CODE_SYSTEMS,
  checkCode,
  isKnownCodeSystem,
  type KnownCodeSystem,
  loincCheckDigit,
  verhoeffValid,
} from './codes.js';
export {
  CONCEPT_MAP_EQUIVALENCES,
  type Coding,
  type ConceptMap,
  type ConceptMapElement,
  type ConceptMapEquivalence,
  type ConceptMapGroup,
  type ConceptMapTarget,
  codeMapHash,
  codeMapRef,
  codesMatch,
  parseConceptMap,
  SEED_CODE_MAP,
  type Translation,
  translate,
} from './conceptmap.js';
export {
  type BuildDisclosureTreeOptions,
  buildDisclosureTree,
  type CodeMapRef,
  type DisclosedElement,
  type DiscloseOptions,
  type Disclosure,
  type DisclosureTree,
  disclose,
  disclosureLeaf,
  disclosureSize,
  SALT_BYTES,
  type TreeElement,
  type VerifyDisclosureOptions,
  verifyDisclosure,
} from './disclosure.js';
export {
  FHIR_RESOURCE_TYPES,
  type FhirResource,
  type FhirResourceType,
  flattenElements,
  isCanonicalElementPath,
  isFhirResourceType,
  type RecordElement,
  validateFhir,
} from './fhir.js';
export { canonicalBytes, canonicalize } from './jcs.js';
