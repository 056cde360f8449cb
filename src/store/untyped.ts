import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/** Record tables are chosen from the registry at run time, so queries on them are built on an untyped view. */
export type AnyDb = Kysely<any>;
export const untyped = (db: Kysely<Database> | Transaction<Database>): AnyDb => db as unknown as AnyDb;
