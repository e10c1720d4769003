/**
 * Format checks for the code systems named in docs/records.md ("Code systems"):
 *  - ICD-10 (WHO), `http://hl7.org/fhir/sid/icd-10`: category `A00`, subcategory `A00.0`, WHO 5th character `S72.00`.
 *  - ICD-10-CM, `http://hl7.org/fhir/sid/icd-10-cm`: `E11.9`, `C7A.00`, `S72.001A` (3–7 characters, the dotted form
 *    FHIR uses; letters allowed from position 3, placeholder `X`).
 *  - SNOMED CT, `http://snomed.info/sct`: SCTID (SNOMED CT TIG §6.1): 6–18 digits, no leading zero, a Verhoeff
 *    check digit, and the partition identifier of a *concept* (`00` short, `10` long format) since a Coding
 *    names a concept, not a description or relationship.
 *  - LOINC, `http://loinc.org`: `NNNNN-C` with LOINC's mod-10 check digit (the Luhn algorithm, per the LOINC
 *    Users' Guide "Calculating Mod 10 Check Digits").
 *
 * These are format checks, not terminology look-ups: they catch typos, transposed digits and codes sent under
 * the wrong system, which is what a verifier of a disclosed coding can check without a terminology server.
 */
import { ProofError } from '../errors.js';

export const CODE_SYSTEMS = {
  icd10: 'http://hl7.org/fhir/sid/icd-10',
  icd10cm: 'http://hl7.org/fhir/sid/icd-10-cm',
  snomed: 'http://snomed.info/sct',
  loinc: 'http://loinc.org',
} as const;

export type KnownCodeSystem = (typeof CODE_SYSTEMS)[keyof typeof CODE_SYSTEMS];

const ICD10_RE = /^[A-Z][0-9]{2}(?:\.[0-9]{1,2})?$/;
const ICD10CM_RE = /^[A-Z][0-9][0-9A-Z](?:\.[0-9A-Z]{1,4})?$/;
const SCTID_RE = /^[1-9][0-9]{5,17}$/;
const LOINC_RE = /^([1-9][0-9]{0,4})-([0-9])$/;

// Verhoeff (1969): multiplication in the dihedral group D5, and the position permutations p(i) = p(1)^i.
const VERHOEFF_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
  [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
  [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
  [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
  [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
  [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
] as const;
export const VERHOEFF_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
  [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
  [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
  [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
  [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
] as const;

/** True when the digit string (check digit last) passes the Verhoeff check. */
export function verhoeffValid(digits: string): boolean {
  let c = 0;
  for (let i = 0; i < digits.length; i++) {
    const d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (d < 0 || d > 9) return false;
    c = VERHOEFF_D[c]![VERHOEFF_P[i % 8]![d]!]!;
  }
  return digits.length > 0 && c === 0;
}

/** LOINC mod-10 (Luhn) check digit of the digits before the hyphen. */
export function loincCheckDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    // Rightmost digit and every second one leftwards are doubled, their digit sum taken.
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

function bad(system: string, code: string, why: string): never {
  throw new ProofError(
    'MR_ERR_CODE_FORMAT',
    `code ${JSON.stringify(code)} is not a valid ${system} code: ${why}`,
    {
      details: { system, code },
    },
  );
}

export function isKnownCodeSystem(system: unknown): system is KnownCodeSystem {
  return (Object.values(CODE_SYSTEMS) as unknown[]).includes(system);
}

/**
 * Checks `code` against the format of `system`.
 *
 * @example
 * checkCode('http://loinc.org', '4548-4')       // ok
 * checkCode('http://snomed.info/sct', '59621001') // throws MR_ERR_CODE_FORMAT (Verhoeff check digit)
 * @throws ProofError MR_ERR_CODE_SYSTEM_UNKNOWN for another system, MR_ERR_CODE_FORMAT for a malformed code.
 */
export function checkCode(system: string, code: string): void {
  if (!isKnownCodeSystem(system)) {
    throw new ProofError(
      'MR_ERR_CODE_SYSTEM_UNKNOWN',
      `code system ${JSON.stringify(system)} is not one medrelay checks (code ${JSON.stringify(code)}); known: ${Object.values(CODE_SYSTEMS).join(', ')}`,
      { details: { system: String(system), code: String(code) } },
    );
  }
  if (typeof code !== 'string') bad(system, String(code), 'expected a string');
  switch (system) {
    case CODE_SYSTEMS.icd10:
      if (!ICD10_RE.test(code))
        bad(system, code, 'expected a letter, two digits and optionally .d or .dd (e.g. I10, E11.9)');
      return;
    case CODE_SYSTEMS.icd10cm:
      if (!ICD10CM_RE.test(code))
        bad(
          system,
          code,
          'expected the dotted ICD-10-CM form: letter, digit, digit or letter, then optionally . and 1–4 characters (e.g. E11.9, S72.001A)',
        );
      return;
    case CODE_SYSTEMS.snomed: {
      if (!SCTID_RE.test(code)) bad(system, code, 'an SCTID has 6–18 digits and no leading zero');
      if (!verhoeffValid(code)) bad(system, code, 'Verhoeff check digit mismatch');
      const partition = code.slice(-3, -1);
      if (partition !== '00' && partition !== '10')
        bad(system, code, `partition identifier ${partition} is not a concept (00 or 10)`);
      // Long format carries a 7-digit namespace before the partition, and an item id of at least one digit.
      if (partition === '10' && code.length < 11)
        bad(system, code, 'long-format SCTID is too short for a namespace');
      return;
    }
    case CODE_SYSTEMS.loinc: {
      const m = LOINC_RE.exec(code);
      if (!m) bad(system, code, 'expected NNNNN-C (1–5 digits without leading zero, hyphen, check digit)');
      if (loincCheckDigit(m[1]!) !== Number(m[2])) bad(system, code, 'mod-10 check digit mismatch');
      return;
    }
  }
}
