/**
 * Canonical key of a value: its BlazeBinary bytes as a binary string. Equal values (by
 * `valuesEqual`) have equal keys, since maps are encoded with sorted keys. Set elements are
 * identified by it.
 */
import type { Value } from '../values/value.ts';
import { Encoder } from './encoder.ts';
import { writeValue } from './value-codec.ts';

export function valueKey(value: Value): string {
  if (typeof value === 'string' && value.length < 64) return `s${value}`;
  const e = new Encoder(32);
  writeValue(e, value);
  const bytes = e.finish();
  let key = 'b';
  for (let i = 0; i < bytes.length; i++) key += String.fromCharCode(bytes[i] as number);
  return key;
}
