// Deterministic tie-breaking between equal nodes: the pod's and the node's
// FNV-1a hashes (fnv32a), mixed.

export { fnv32a as hashString } from '../controllers/objects.ts';

/** Mixes two 32-bit hashes (murmur3's finaliser over a ^ b·φ), 32-bit unsigned. */
export function mixHashes(a: number, b: number): number {
  let h = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
