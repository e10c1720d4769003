/**
 * Code-system format checks. SNOMED CT vectors are real concept ids (published in the International Edition);
 * the long-format id was computed with a separate Verhoeff implementation (Python, permutations generated as
 * powers of p(1) rather than typed in). LOINC check digits were worked by hand from the LOINC Users' Guide.
 */
import { describe, expect, it } from 'vitest';
import { ProofError } from '../../proofs/errors.js';
import {
  CODE_SYSTEMS,
  checkCode,
  loincCheckDigit,
  VERHOEFF_P,
  verhoeffValid,
} from '../../proofs/records/codes.js';
import { LOINC_PANEL } from '../helpers/fhir-fixtures.js';

const { icd10, icd10cm, snomed, loinc } = CODE_SYSTEMS;

function expectCodeError(system: string, code: string, errCode = 'MR_ERR_CODE_FORMAT'): void {
  try {
    checkCode(system, code);
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    expect((err as ProofError).code).toBe(errCode);
    expect((err as ProofError).message).toContain(system);
    expect((err as ProofError).message).toContain(JSON.stringify(code));
    return;
  }
  throw new Error(`expected ${errCode} for ${system} ${code}`);
}

describe('checkCode', () => {
  it('default: ICD-10 (WHO)', () => {
    for (const c of ['I10', 'E11.9', 'J45.0', 'U07.1', 'S72.00', 'A00'])
      expect(() => checkCode(icd10, c), c).not.toThrow();
    for (const c of ['S72.001A', 'i10', 'I1', 'E119', 'I10.', 'I10 ', 'C7A', '110', 'E11.900', ''])
      expectCodeError(icd10, c);
  });

  it('default: ICD-10-CM', () => {
    for (const c of ['I10', 'E11.9', 'S72.001A', 'C7A.00', 'T15.90XA', 'M1A.0110', 'U07.1'])
      expect(() => checkCode(icd10cm, c), c).not.toThrow();
    for (const c of ['S72001A', 'E11.90000', '1E1', 'EE1', 'e11.9', 'E11-9', 'E1'])
      expectCodeError(icd10cm, c);
  });

  it('default: SNOMED CT concept ids (Verhoeff, partition)', () => {
    for (const c of [
      '59621000',
      '38341003',
      '44054006',
      '73211009',
      '404684003',
      '195967001',
      '22298006',
      '91936005',
      '840539006',
      '11000087100',
    ])
      expect(() => checkCode(snomed, c), c).not.toThrow();
    expectCodeError(snomed, '59621001'); // check digit
    expectCodeError(snomed, '059621000'); // leading zero
    expectCodeError(snomed, '12345'); // too short
    expectCodeError(snomed, '1234567890123456789'); // 19 digits
    expectCodeError(snomed, '5962100O'); // letter O
    expectCodeError(snomed, '59621000 |Essential hypertension|'); // expressions are not codes
    // A valid description id (partition 01) is not a concept: 7541601 + its Verhoeff digit 5.
    expect(verhoeffValid('75416015')).toBe(true);
    expectCodeError(snomed, '75416015');
  });

  it('behavior: Verhoeff catches every single-digit error and adjacent transposition of real ids', () => {
    for (const id of ['59621000', '38341003', '44054006', '404684003', '195967001']) {
      for (let i = 0; i < id.length; i++) {
        for (let d = 0; d <= 9; d++) {
          if (String(d) === id[i]) continue;
          expect(verhoeffValid(id.slice(0, i) + d + id.slice(i + 1)), `${id} @${i}=${d}`).toBe(false);
        }
        if (i + 1 < id.length && id[i] !== id[i + 1]) {
          const swapped = id.slice(0, i) + id[i + 1] + id[i] + id.slice(i + 2);
          expect(verhoeffValid(swapped), `${id} swap ${i}`).toBe(false);
        }
      }
    }
  });

  it('behavior: the Verhoeff permutation table is p(1) iterated', () => {
    const p1 = VERHOEFF_P[1]!;
    for (let i = 1; i < 8; i++) expect(VERHOEFF_P[i]).toEqual(VERHOEFF_P[i - 1]!.map((x) => p1[x]));
  });

  it('default: LOINC with mod-10 check digit', () => {
    expect(loincCheckDigit('4548')).toBe(4);
    expect(loincCheckDigit('2345')).toBe(7);
    expect(loincCheckDigit('718')).toBe(7);
    expect(loincCheckDigit('12345')).toBe(5); // the Users' Guide worked example
    for (const c of ['4548-4', '2345-7', '718-7', '8480-6', '8462-4', '39156-5', '29463-7', '8867-4'])
      expect(() => checkCode(loinc, c), c).not.toThrow();
    for (const p of LOINC_PANEL) expect(() => checkCode(loinc, p.code), p.code).not.toThrow();
    for (const c of ['4548-5', '04548-4', '4548', '123456-7', '4548-44', '4548 -4', 'LA6576-8', '-4'])
      expectCodeError(loinc, c);
  });

  it('error: unknown system → MR_ERR_CODE_SYSTEM_UNKNOWN naming system and code', () => {
    expectCodeError('http://www.nlm.nih.gov/research/umls/rxnorm', '860975', 'MR_ERR_CODE_SYSTEM_UNKNOWN');
    expectCodeError('http://snomed.info/sct/', '59621000', 'MR_ERR_CODE_SYSTEM_UNKNOWN'); // trailing slash
    try {
      checkCode(snomed, '59621001');
    } catch (err) {
      expect((err as ProofError).details).toEqual({ system: snomed, code: '59621001' });
    }
  });
});
