/**
 * Validation of values and names at the API boundary. Every rejection is a `ValidationError`
 * naming the path of the offending part, and happens before anything is written.
 */
import { ValidationError } from '../errors.ts';
import { INT64_MAX, INT64_MIN, isPlainObject, RecordRef, type Value } from './value.ts';

/** Deepest nesting of arrays and maps; the decoder enforces the same bound. */
export const MAX_VALUE_DEPTH = 64;
/** Longest collection, field or map-key name, in UTF-8 bytes. */
export const MAX_NAME_BYTES = 255;
/** Longest record id, in UTF-8 bytes. */
export const MAX_RECORD_ID_BYTES = 255;

function utf8Length(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

function checkString(s: string, path: string): void {
  if (!s.isWellFormed()) throw new ValidationError(path, 'string has a lone surrogate');
}

/** A collection or field name: non-empty, well-formed, at most 255 bytes, no NUL, not `__proto__`. */
export function validateName(name: unknown, path: string, what = 'name'): asserts name is string {
  if (typeof name !== 'string') throw new ValidationError(path, `${what} must be a string`);
  if (name.length === 0) throw new ValidationError(path, `${what} must not be empty`);
  checkString(name, path);
  if (utf8Length(name) > MAX_NAME_BYTES) throw new ValidationError(path, `${what} longer than ${MAX_NAME_BYTES} bytes`);
  if (name === '__proto__') throw new ValidationError(path, `${what} '__proto__' is reserved`);
  if (name.includes('\0')) throw new ValidationError(path, `${what} must not contain NUL`);
}

export function validateRecordId(id: unknown, path = 'id'): asserts id is string {
  if (typeof id !== 'string') throw new ValidationError(path, 'record id must be a string');
  if (id.length === 0) throw new ValidationError(path, 'record id must not be empty');
  checkString(id, path);
  if (utf8Length(id) > MAX_RECORD_ID_BYTES) {
    throw new ValidationError(path, `record id longer than ${MAX_RECORD_ID_BYTES} bytes`);
  }
}

/** Throws a `ValidationError` unless `value` is a valid field value (see `Value`). */
export function validateValue(value: unknown, path: string): asserts value is Value {
  checkValue(value, path, [], 0);
}

function checkValue(v: unknown, path: string, ancestors: object[], depth: number): void {
  switch (typeof v) {
    case 'boolean':
      return;
    case 'string':
      checkString(v, path);
      return;
    case 'number':
      if (!Number.isFinite(v)) throw new ValidationError(path, `${v} is not allowed (numbers must be finite)`);
      return;
    case 'bigint':
      if (v < INT64_MIN || v > INT64_MAX) throw new ValidationError(path, 'bigint outside the signed 64-bit range');
      return;
    case 'undefined':
      throw new ValidationError(path, 'undefined is not a value (use null)');
    case 'function':
    case 'symbol':
      throw new ValidationError(path, `a ${typeof v} is not a value`);
  }
  if (v === null) return;
  const obj = v as object;
  if (obj instanceof Uint8Array) return;
  if (obj instanceof Date) {
    if (Number.isNaN(obj.getTime())) throw new ValidationError(path, 'invalid Date');
    return;
  }
  if (obj instanceof RecordRef) {
    validateName(obj.collection, `${path}.collection`, 'collection');
    validateRecordId(obj.id, `${path}.id`);
    return;
  }
  if (ancestors.includes(obj)) throw new ValidationError(path, 'value contains a cycle');
  if (depth >= MAX_VALUE_DEPTH) throw new ValidationError(path, `nested deeper than ${MAX_VALUE_DEPTH} levels`);
  ancestors.push(obj);
  if (Array.isArray(obj)) {
    for (let i = 0; i < obj.length; i++) {
      if (!Object.hasOwn(obj, i)) throw new ValidationError(`${path}[${i}]`, 'sparse array hole');
      checkValue(obj[i], `${path}[${i}]`, ancestors, depth + 1);
    }
  } else if (isPlainObject(obj)) {
    if (Object.getOwnPropertySymbols(obj).length > 0) throw new ValidationError(path, 'symbol keys are not allowed');
    for (const key of Object.keys(obj)) {
      checkString(key, `${path}.${key}`);
      if (key === '__proto__') throw new ValidationError(`${path}.${key}`, "map key '__proto__' is reserved");
      checkValue((obj as Record<string, unknown>)[key], `${path}.${key}`, ancestors, depth + 1);
    }
  } else {
    const kind = obj.constructor?.name ?? 'object';
    throw new ValidationError(path, `a ${kind} instance is not a value`);
  }
  ancestors.pop();
}
