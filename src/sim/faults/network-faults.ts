import type { NetworkConfig } from '../config.ts';
import { httpMessageFaults } from './http-faults.ts';
import type { Rng } from '../rng.ts';

/*
 * The per-message faults. Each message draws its fate from its own stream (client, message
 * number), in a fixed order, so a message's fate does not depend on what else happened.
 */

/** Latency of one direction, with the reorder fault's extra delay that lets later messages overtake. */
export function latency(rng: Rng, net: NetworkConfig): number {
  const base = rng.int(net.latencyMs[0], net.latencyMs[1]);
  return rng.chance(net.reorderRate) ? base + rng.int(net.latencyMs[1], net.latencyMs[1] * 4 + 50) : base;
}

/** The request is lost on the way: the client times out, the server never sees it. */
export const drop = (rng: Rng, net: NetworkConfig) => rng.chance(net.dropRate);

/** The server committed, but the response is lost: the client sees a failure and will retry. */
export const lostAck = (rng: Rng, net: NetworkConfig) => rng.chance(net.lostAckRate);

/** The request arrives twice (a retrying proxy). */
export const duplicate = (rng: Rng, net: NetworkConfig) => rng.chance(net.duplicateRate);

/** The per-message faults' knobs (config.network rates): heal turns them off, the shrinker tries each at 0, the report draws them. */
export const messageFaults = [
  ...httpMessageFaults,
  { rate: 'duplicateRate', traceKinds: ['duplicate'], colour: '#e07b00', legend: 'duplicate' },
  { rate: 'lostAckRate', traceKinds: ['lost-ack'], colour: '#e07b00', legend: 'lost ack' },
  { rate: 'dropRate', traceKinds: ['drop'], colour: '#e07b00', legend: 'drop / timeout' },
  { rate: 'reorderRate', traceKinds: [], colour: '#e07b00', legend: 'reorder' },
] as const satisfies readonly { rate: keyof NetworkConfig; traceKinds: readonly string[]; colour: string; legend: string }[];
