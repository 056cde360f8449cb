import type { components } from './schema.js';

type Schemas = components['schemas'];

/** What the record routes answer with `?view=mapped` (the contract lets each of their answers be either view). */
type MappedView = Schemas['MappedRecordList'] | Schemas['MappedRecord'] | Schemas['MappedInventoryItemLevels'];

/** Whether A and B are the same type, not merely assignable to one another. */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type IsMappedView<Data> = true extends (MappedView extends infer View ? (View extends unknown ? Same<Data, View> : never) : never) ? true : false;
type AsksMapped<Init> = Init extends { params?: { query?: { view?: infer View } } } ? ('mapped' extends View ? (View extends 'mapped' ? true : false) : false) : false;

/**
 * An answer narrowed to the view the request asked for: a record route's records as stored, or through
 * the tenant's mapping with `view: 'mapped'`. Answers of other routes are left as they are.
 */
export type ForView<Data, Init> = Data extends unknown ? (IsMappedView<Data> extends AsksMapped<Init> ? Data : never) : never;
