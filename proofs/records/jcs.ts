/**
 * RFC 8785 — JSON Canonicalization Scheme (JCS).
 *
 * One JSON value has exactly one canonical text, so `sha256(jcs(record))` is the same at every hospital and on
 * every chain however the record was pretty-printed or its keys ordered (docs/records.md, "Record anchor").
 *
 *  - Object members are sorted by their names as arrays of UTF-16 code units (RFC 8785 §3.2.3), which is what
 *    JavaScript's default string comparison does, so no collation or locale is involved.
 *  - Numbers are serialized as ECMAScript `Number.prototype.toString` does (RFC 8785 §3.2.2.3): shortest
 *    round-trip digits, exponent form outside [1e-6, 1e21), `-0` as `0`.
 *  - Strings use the ECMAScript JSON escaping (RFC 8785 §3.2.2.2): `\b \t \n \f \r \" \\`, other C0 controls as
 *    lowercase `\u00xx`, everything else verbatim (no `\/`, no escaping of non-ASCII).
 *
 * The input must be I-JSON (RFC 7493): lone surrogates, NaN, ±Infinity, `undefined`, functions, symbols, bigints,
 * class instances (Date, Map, Buffer, …), sparse arrays and cycles are refused with a typed error naming the JSON
 * path, instead of being dropped or coerced as `JSON.stringify` would — a silently dropped field would let two
 * different records share one hash.
 */
import { ProofError } from '../errors.js';

const MAX_DEPTH = 256;

/** Bytes of the canonical text; shared encoder because TextEncoder construction is not free on hot paths. */
const UTF8 = new TextEncoder();

// In /u mode a well-formed pair is one code point, so \p{Cs} only matches a lone surrogate.
const LONE_SURROGATE = /\p{Cs}/u;
const IDENT = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/**
 * Keys from the root to the value being serialized. Paths are only rendered when an error is thrown: building
 * a path string for every node of a 50 KB record would cost more than the serialization itself.
 */
type Trail = (string | number)[];

/** JSONPath-like location for error messages: `$`, `$.entry[2].resource`, `$["a b"]`. */
function render(trail: Trail): string {
  let path = '$';
  for (const key of trail) {
    if (typeof key === 'number') path += `[${key}]`;
    else path += IDENT.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
  }
  return path;
}

function fail(code: string, trail: Trail, message: string): never {
  const path = render(trail);
  throw new ProofError(code, `jcs: ${path}: ${message}`, { details: { path } });
}

/** Characters RFC 8785 escapes, plus surrogates (which may be lone): strings without any take the fast path. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point (RFC 8785 escapes them)
const NEEDS_WORK = /["\\\u0000-\u001f\ud800-\udfff]/;

function serializeString(s: string, trail: Trail): string {
  // Most record strings (codes, dates, URIs, names) need no escaping; quoting them directly avoids a runtime
  // call per string, which profiling showed is ~40% of canonicalization.
  if (!NEEDS_WORK.test(s)) return `"${s}"`;
  if (LONE_SURROGATE.test(s)) fail('MR_ERR_JCS_STRING', trail, 'string contains a lone UTF-16 surrogate');
  // JSON.stringify on a well-formed string is exactly RFC 8785 §3.2.2.2 (ECMA-262 QuoteJSONString).
  return JSON.stringify(s);
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  if (typeof v !== 'object' || v === null) return typeof v;
  const ctor = (Object.getPrototypeOf(v) as { constructor?: { name?: string } } | null)?.constructor?.name;
  return ctor ? `${ctor} instance` : 'object';
}

function serialize(v: unknown, trail: Trail, seen: Set<object>): string {
  switch (typeof v) {
    case 'string':
      return serializeString(v, trail);
    case 'number':
      if (!Number.isFinite(v)) fail('MR_ERR_JCS_NUMBER', trail, `${String(v)} is not a JSON number`);
      // ECMA-262 Number::toString is the RFC 8785 number serialization; it already prints -0 as "0".
      return String(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      break;
    default:
      fail('MR_ERR_JCS_TYPE', trail, `${describe(v)} is not a JSON value`);
  }
  if (v === null) return 'null';
  if (trail.length >= MAX_DEPTH) fail('MR_ERR_JCS_DEPTH', trail, `nested deeper than ${MAX_DEPTH} levels`);
  if (seen.has(v)) fail('MR_ERR_JCS_CYCLE', trail, 'cyclic reference');
  seen.add(v);
  let out: string;
  if (Array.isArray(v)) {
    if (Object.getPrototypeOf(v) !== Array.prototype)
      fail('MR_ERR_JCS_TYPE', trail, `${describe(v)} is not a JSON array`);
    out = '[';
    for (let i = 0; i < v.length; i++) {
      trail.push(i);
      // `i in v` catches holes: a sparse array has no JSON form (JSON.stringify would invent nulls).
      if (!(i in v)) fail('MR_ERR_JCS_TYPE', trail, 'array hole is not a JSON value');
      out += i === 0 ? serialize(v[i], trail, seen) : `,${serialize(v[i], trail, seen)}`;
      trail.pop();
    }
    out += ']';
  } else {
    if (!isPlainObject(v)) fail('MR_ERR_JCS_TYPE', trail, `${describe(v)} is not a plain JSON object`);
    if (Object.getOwnPropertySymbols(v).length > 0) fail('MR_ERR_JCS_TYPE', trail, 'object has symbol keys');
    const obj = v as Record<string, unknown>;
    // Default sort compares UTF-16 code units, exactly RFC 8785 §3.2.3.
    const keys = Object.keys(obj).sort();
    out = '{';
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      trail.push(k);
      out += `${i === 0 ? '' : ','}${serializeString(k, trail)}:${serialize(obj[k], trail, seen)}`;
      trail.pop();
    }
    out += '}';
  }
  seen.delete(v);
  return out;
}

/**
 * RFC 8785 canonical text of a JSON value.
 *
 * @example
 * canonicalize({ b: [1e21, -0], a: 'é' }) // '{"a":"é","b":[1e+21,0]}'
 * @throws ProofError MR_ERR_JCS_NUMBER | MR_ERR_JCS_TYPE | MR_ERR_JCS_STRING | MR_ERR_JCS_CYCLE | MR_ERR_JCS_DEPTH
 */
export function canonicalize(value: unknown): string {
  return serialize(value, [], new Set());
}

/** UTF-8 bytes of `canonicalize(value)`: what gets hashed. */
export function canonicalBytes(value: unknown): Uint8Array {
  return UTF8.encode(canonicalize(value));
}
