/**
 * `lockstep/sim/vitest`: `simulationTest(name, sim, { seeds })` runs a simulation's seeds inside
 * vitest; a failure names the violation, the shrunk replay file and the command that replays it.
 */
export { simulationTest, failureMessage, type SimulationTestOptions } from '../sim/app/vitest.ts';
