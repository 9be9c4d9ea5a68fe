/**
 * A cookie's fingerprint: which mutation took the version the cookie stands for. A database
 * restored from an older backup keeps its epoch, and then writes other mutations at versions a
 * client has already seen; the fingerprint at the cookie's order no longer matches, and the
 * client gets ClientStateNotFound instead of a patch against a history it never had.
 * FNV-1a (64-bit, as two 32-bit lanes): deterministic, no dependency, enough to tell two
 * mutations apart.
 */
export function fingerprint(clientID: string, mutationID: number): string {
  const s = `${clientID}\u0000${mutationID}`;
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ c ^ (h1 >>> 7), 0x5bd1e995) >>> 0;
  }
  return h1.toString(16).padStart(8, '0') + h2.toString(16).padStart(8, '0');
}

/** The fingerprint of version 0 (nothing written yet). */
export const emptyFingerprint = '0';
