/**
 * `lockstep/sim/vitest`: `simulationTest(name, sim, { seeds, workers })` runs a simulation's seeds
 * inside vitest (on worker processes with `workers`); `simulationProperty(name, sim)` runs it on
 * fast-check-generated schedules. A failure names the violation, the shrunk replay file and the
 * commands that replay and reproduce it.
 */
export { simulationTest, failureMessage, simulationProperty, propertyFailureMessage, type SimulationTestOptions, type SimulationPropertyOptions } from '../sim/app/vitest.ts';
