/**
 * LZ4 block compression (lz4-wasm's Node build). The compressed form starts with the
 * uncompressed size as 4 bytes little-endian; it is checked against a caller-given bound
 * before decompressing, so a forged size cannot make the decoder allocate.
 */
import { compress, decompress } from 'lz4-wasm-nodejs';
import { DecodeError } from '../errors.ts';

/** LZ4 cannot expand data by more than this factor; a larger claimed size is forged. */
const MAX_LZ4_RATIO = 255;

export function compressBlock(bytes: Uint8Array): Uint8Array {
  return compress(bytes);
}

export function decompressBlock(bytes: Uint8Array, maxBytes: number): Uint8Array {
  if (!(bytes instanceof Uint8Array)) throw new DecodeError('LZ4 input is not a Uint8Array');
  if (bytes.length < 4) throw new DecodeError('LZ4 block shorter than its size prefix');
  const size = (bytes[0] as number) | ((bytes[1] as number) << 8) | ((bytes[2] as number) << 16) | ((bytes[3] as number) << 24);
  const claimed = size >>> 0;
  if (claimed > maxBytes) throw new DecodeError(`LZ4 block claims ${claimed} bytes, limit ${maxBytes}`);
  if (claimed > (bytes.length - 4) * MAX_LZ4_RATIO + 16) throw new DecodeError('LZ4 size prefix larger than the block can hold');
  let out: Uint8Array;
  try {
    out = decompress(bytes);
  } catch (err) {
    throw new DecodeError(`bad LZ4 block: ${String(err)}`);
  }
  if (out.length !== claimed) throw new DecodeError('LZ4 block decompressed to the wrong size');
  return out;
}
