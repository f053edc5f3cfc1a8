/** Assertions on neverthrow results, so tests say what they expect in one line. */
import type { Result, ResultAsync } from 'neverthrow';
import { expect } from 'vitest';

/** The message of `r`, asserting that `r` failed with an error of `type` (default `'storage'`). */
export function failure(r: Result<unknown, { type: string; message: string }>, type = 'storage'): string {
  if (r.isOk()) throw new Error(`expected a ${type} error, got ok`);
  expect(r.error.type).toBe(type);
  return r.error.message;
}

/** The `reason` of a failed result's StorageError (fails the test if it is not one). */
export function storageReason(r: Result<unknown, { type: string }>): string {
  if (r.isOk()) throw new Error('expected a storage error, got ok');
  expect(r.error.type).toBe('storage');
  return (r.error as { reason?: string }).reason ?? '(none)';
}

/** The value of an async result, failing the test with the error when it failed. */
export async function value<T, E>(r: ResultAsync<T, E>): Promise<T> {
  const result = await r;
  if (result.isErr()) throw new Error(`expected ok, got ${JSON.stringify(result.error)}`);
  return result.value;
}

/** The error of an async result, failing the test when it succeeded. */
export async function error<T, E>(r: ResultAsync<T, E>): Promise<E> {
  const result = await r;
  if (result.isOk()) throw new Error(`expected an error, got ${JSON.stringify(result.value)}`);
  return result.error;
}
