import { describe, expect, it } from 'vitest';
import { ProofError } from '../../proofs/errors.js';
import {
  FHIR_RESOURCE_TYPES,
  flattenElements,
  isCanonicalElementPath,
  validateFhir,
} from '../../proofs/records/fhir.js';
import { canonicalize } from '../../proofs/records/jcs.js';
import { bundleOfSize, condition, ICD10, makeBundle, patient, SCT } from '../helpers/fhir-fixtures.js';

function expectFhirError(value: unknown, path: string): void {
  try {
    validateFhir(value);
  } catch (err) {
    expect(err).toBeInstanceOf(ProofError);
    expect((err as ProofError).code).toBe('MR_ERR_FHIR_INVALID');
    expect((err as ProofError).details.path).toBe(path);
    expect((err as ProofError).message).toContain(path);
    return;
  }
  throw new Error(`expected MR_ERR_FHIR_INVALID at ${path}`);
}

const clone = <T>(v: T): T => structuredClone(v);
type Json = Record<string, unknown>;
const entryResource = (b: Json, i: number): Json => (b.entry as Json[])[i]!.resource as Json;

describe('validateFhir', () => {
  it('default: accepts the fixtures, every known type, and a 50 KB Bundle', () => {
    expect(validateFhir(makeBundle()).resourceType).toBe('Bundle');
    expect(validateFhir(bundleOfSize(50_000)).resourceType).toBe('Bundle');
    for (const t of FHIR_RESOURCE_TYPES) {
      const r = t === 'Bundle' ? { resourceType: t, type: 'collection' } : { resourceType: t, id: 'x-1.A' };
      expect(validateFhir(r).resourceType).toBe(t);
    }
  });

  it('error: not an object', () => {
    expectFhirError([], 'resource');
    expectFhirError('Patient', 'resource');
    expectFhirError(null, 'resource');
    expectFhirError(undefined, 'resource');
  });

  it('error: resourceType missing or unknown, with the Bundle path', () => {
    expectFhirError({ id: 'x' }, 'resource');
    expectFhirError({ resourceType: 'Patientx' }, 'resource');
    const b = clone(makeBundle()) as Json;
    entryResource(b, 2).resourceType = 'Foo';
    expectFhirError(b, 'Bundle.entry[2].resource');
    const b2 = clone(makeBundle()) as Json;
    delete entryResource(b2, 4).resourceType;
    expectFhirError(b2, 'Bundle.entry[4].resource');
    const b3 = clone(makeBundle()) as Json;
    (b3.entry as Json[])[1]!.resource = ['not', 'an', 'object'];
    expectFhirError(b3, 'Bundle.entry[1].resource');
  });

  it('error: id format (resource ids only)', () => {
    expectFhirError({ resourceType: 'Patient', id: 'has space' }, 'Patient.id');
    expectFhirError({ resourceType: 'Patient', id: 'x'.repeat(65) }, 'Patient.id');
    expectFhirError({ resourceType: 'Patient', id: 7 }, 'Patient.id');
    const b = clone(makeBundle()) as Json;
    entryResource(b, 3).id = 'bad/id';
    expectFhirError(b, 'Bundle.entry[3].resource.id');
    // Element ids (inside datatypes) are plain strings, not resource ids.
    expect(() =>
      validateFhir({ resourceType: 'Patient', name: [{ id: 'any thing/ok', family: 'X' }] }),
    ).not.toThrow();
  });

  it('error: Bundle.type and entries', () => {
    expectFhirError({ resourceType: 'Bundle', type: 'bag' }, 'Bundle.type');
    expectFhirError({ resourceType: 'Bundle' }, 'Bundle.type');
    expectFhirError({ resourceType: 'Bundle', type: 'collection', entry: {} }, 'Bundle.entry');
    expectFhirError({ resourceType: 'Bundle', type: 'collection', entry: [1] }, 'Bundle.entry[0]');
    expectFhirError({ resourceType: 'Bundle', type: 'collection', entry: [] }, 'Bundle.entry');
  });

  it('error: JSON representation rules, with nested paths', () => {
    expectFhirError({ resourceType: 'Patient', name: [] }, 'Patient.name');
    expectFhirError({ resourceType: 'Patient', name: [{}] }, 'Patient.name[0]');
    expectFhirError({ resourceType: 'Patient', gender: null }, 'Patient.gender');
    expectFhirError({ resourceType: 'Patient', gender: '  ' }, 'Patient.gender');
    expectFhirError({ resourceType: 'Patient', name: [[{ family: 'x' }]] }, 'Patient.name[0]');
    expectFhirError({ resourceType: 'Patient', Name: 'x' }, 'Patient.Name');
    expectFhirError({ resourceType: 'Patient', 'a.b': 'x' }, 'Patient.a.b');
    expectFhirError(
      { resourceType: 'Observation', valueQuantity: { value: Number.NaN } },
      'Observation.valueQuantity.value',
    );
    expectFhirError({ resourceType: 'Patient', birthDate: new Date(0) }, 'Patient.birthDate');
    expectFhirError({ resourceType: 'Patient', active: () => true }, 'Patient.active');
    const b = clone(makeBundle()) as Json;
    (entryResource(b, 2).code as Json).coding = [];
    expectFhirError(b, 'Bundle.entry[2].resource.code.coding');
    // null aligns primitive arrays with their _extensions and is allowed there.
    expect(() =>
      validateFhir({ resourceType: 'Patient', name: [{ given: ['A', null], _given: [null, { id: 'e1' }] }] }),
    ).not.toThrow();
  });

  it('error: contained resources are validated too', () => {
    expectFhirError(
      { resourceType: 'Patient', contained: [{ resourceType: 'Nope' }] },
      'Patient.contained[0]',
    );
    expect(() =>
      validateFhir({
        resourceType: 'Patient',
        contained: [{ resourceType: 'Organization', id: 'o1', name: 'H' }],
      }),
    ).not.toThrow();
  });
});

describe('flattenElements', () => {
  it('default: one element per primitive, docs/records.md paths, RFC 8785 values', () => {
    const c = condition('c1', { code: 'I10', display: 'Essential (primary) hypertension' });
    const els = flattenElements(c);
    const byPath = new Map(els.map((e) => [e.path, e.value]));
    expect(byPath.get('Condition.code.coding[0].code')).toBe('"I10"');
    expect(byPath.get('Condition.code.coding[0].system')).toBe(`"${ICD10}"`);
    expect(byPath.get('Condition.resourceType')).toBe('"Condition"');
    expect(byPath.get('Condition.category[0].coding[0].code')).toBe('"problem-list-item"');
    expect(els.map((e) => e.path)).toEqual([...els.map((e) => e.path)].sort());
    expect(
      flattenElements({
        resourceType: 'Observation',
        valueQuantity: { value: 5.4, unit: '%' },
        status: 'final',
      }),
    ).toEqual([
      { path: 'Observation.resourceType', value: '"Observation"' },
      { path: 'Observation.status', value: '"final"' },
      { path: 'Observation.valueQuantity.unit', value: '"%"' },
      { path: 'Observation.valueQuantity.value', value: '5.4' },
    ]);
    expect(
      flattenElements({ resourceType: 'Patient', active: true, name: [{ given: ['A', null] }] }),
    ).toEqual([
      { path: 'Patient.active', value: 'true' },
      { path: 'Patient.name[0].given[0]', value: '"A"' },
      { path: 'Patient.name[0].given[1]', value: 'null' },
      { path: 'Patient.resourceType', value: '"Patient"' },
    ]);
  });

  it('behavior: Bundle entries carry the resource type after `resource.`', () => {
    const els = flattenElements(makeBundle());
    const paths = new Set(els.map((e) => e.path));
    expect(paths.has('Bundle.entry[2].resource.Condition.code.coding[0].code')).toBe(true);
    expect(paths.has('Bundle.entry[2].resource.Condition.code.coding[1].system')).toBe(true);
    expect(paths.has('Bundle.entry[0].resource.Patient.birthDate')).toBe(true);
    expect(paths.has('Bundle.entry[0].resource.Patient.resourceType')).toBe(true);
    expect(paths.has('Bundle.type')).toBe(true);
    expect(els.find((e) => e.path === 'Bundle.entry[2].resource.Condition.code.coding[1].code')?.value).toBe(
      '"59621000"',
    );
    expect(
      els.find((e) => e.path === 'Bundle.entry[2].resource.Condition.code.coding[1].system')?.value,
    ).toBe(`"${SCT}"`);
    for (const e of els) expect(isCanonicalElementPath(e.path), e.path).toBe(true);
  });

  it('behavior: independent of key order; the element count is the primitive count', () => {
    const b = makeBundle();
    const reversed = JSON.parse(
      JSON.stringify(b, (_k, v: unknown) =>
        v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
      ),
    ) as unknown;
    expect(flattenElements(reversed)).toEqual(flattenElements(b));
    let primitives = 0;
    JSON.stringify(b, (_k, v: unknown) => {
      if (v === null || typeof v !== 'object') primitives++;
      return v;
    });
    expect(flattenElements(b).length).toBe(primitives);
    // Every value is the canonical text of the primitive it came from.
    const p = patient();
    for (const e of flattenElements(p)) expect(canonicalize(JSON.parse(e.value))).toBe(e.value);
  });

  it('error: flattening validates first', () => {
    expect(() => flattenElements({ resourceType: 'Unknown' })).toThrow(
      expect.objectContaining({ code: 'MR_ERR_FHIR_INVALID' }),
    );
  });

  it('behavior: canonical path syntax', () => {
    for (const p of [
      'Patient.id',
      'Bundle.entry[3].resource.Condition.code.coding[0].code',
      'Patient._birthDate.extension[10].url',
    ])
      expect(isCanonicalElementPath(p), p).toBe(true);
    for (const p of [
      'Patient',
      'patient.id',
      'Patient.name[01].family',
      'Patient..id',
      'Patient.id ',
      'Patient.name[]',
      'Foo.id',
      'Patient.name[0][1]',
      'Patient.na-me',
      '',
    ])
      expect(isCanonicalElementPath(p), p).toBe(p === 'Patient');
  });
});
