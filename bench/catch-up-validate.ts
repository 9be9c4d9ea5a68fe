/** The pull response's validation on one large page: the protocol's zod schema against the transports' in-place check (src/engine/transports/pull-response.ts). Run: npx tsx bench/catch-up-validate.ts */
import { pullResponseOKSchema } from '../src/protocol/index.ts';
import { pullResponseWireSchema } from '../src/engine/transports/pull-response.ts';
const P = 25000;
const text = JSON.stringify({ cookie: { order: 5, epoch: 'e', fp: 'f' }, lastMutationIDChanges: {}, patch: Array.from({ length: P }, (_, i) => ({ op: 'put', key: `item/i${i}`, value: { n: i, title: `item ${i}`, body: 'a comment of a few words, as a review tool has' } })) });
let a = 0, b = 0;
for (let r = 0; r < 6; r++) {
  const o1 = JSON.parse(text), o2 = JSON.parse(text);
  let t = performance.now(); pullResponseOKSchema.parse(o1); a += performance.now() - t;
  t = performance.now(); pullResponseWireSchema.parse(o2); b += performance.now() - t;
}
console.log(`25,000-op page, mean of 6: protocol schema ${(a / 6).toFixed(0)} ms, wire schema ${(b / 6).toFixed(0)} ms`);
