/**
 * The maps people name things in (`targets`, `scripts`) and how to read them. Kept apart from the
 * schema so a bundle that embeds its validated configuration does not carry the validator.
 */

/** A copy of `record` without a prototype: `constructor` or `__proto__` is an unknown name, never an inherited property. */
export const ownOnly = <T>(record: Record<string, T>): Record<string, T> => Object.assign(Object.create(null) as Record<string, T>, record);

/** The entry of `record` named `key`, own properties only (`constructor` is not a service). */
export const lookup = <T>(record: Record<string, T>, key: string): T | undefined => (Object.hasOwn(record, key) ? record[key] : undefined);
