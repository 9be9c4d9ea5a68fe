export * from './json.ts';
export * from './entity.ts';
export * from './patch.ts';
export * from './push.ts';
export * from './pull.ts';
export * from './errors.ts';
export * from './mutators.ts';
export * from './result.ts';
