import type { DatabaseReader, DatabaseWriter, GenericId } from '../database/api-types.js';
import type { Value } from '../values/value.js';
import type { Scheduler } from './scheduler-types.js';

// What each kind of function receives as `ctx`, as in Convex: queries read,
// mutations read and write in one transaction, actions and HTTP actions reach
// the others through runQuery / runMutation / runAction.

/** A function to call: an `api.module.fn` reference or a "module:fn" string. */
export type FunctionReferenceLike = string | { readonly [name: symbol]: unknown };

export interface UserIdentity {
  /** `${issuer}|${subject}`: stable and unique across providers. */
  tokenIdentifier: string;
  subject: string;
  issuer: string;
  [claim: string]: Value | undefined;
}

export interface Auth {
  /** The caller's identity from a verified token, or null without one. */
  getUserIdentity(): Promise<UserIdentity | null>;
}

export interface FileMetadata {
  storageId: GenericId<'_storage'>;
  /** Hex sha256 of the bytes. */
  sha256: string;
  size: number;
  contentType: string | null;
}

export interface StorageReader {
  /** A URL that serves the file, or null when it does not exist. */
  getUrl(storageId: string): Promise<string | null>;
  getMetadata(storageId: string): Promise<FileMetadata | null>;
}

export interface StorageWriter extends StorageReader {
  /** A short-lived URL a client may POST the file's bytes to. */
  generateUploadUrl(): Promise<string>;
  delete(storageId: string): Promise<void>;
  /** A Blob, or a Request whose body is streamed to storage (with its Content-Type). */
  store(blob: Blob | Request, options?: { sha256?: string }): Promise<GenericId<'_storage'>>;
  get(storageId: string): Promise<Blob | null>;
}

export type StorageActionWriter = StorageWriter;

type Run = (reference: FunctionReferenceLike, args?: Record<string, any>) => Promise<any>;

export interface QueryCtx {
  db: DatabaseReader;
  auth: Auth;
  storage: StorageReader;
  runQuery: Run;
}

export interface MutationCtx {
  db: DatabaseWriter;
  auth: Auth;
  storage: StorageWriter;
  runQuery: Run;
  runMutation: Run;
  scheduler: Scheduler;
}

export interface ActionCtx {
  auth: Auth;
  storage: StorageActionWriter;
  runQuery: Run;
  runMutation: Run;
  runAction: Run;
  scheduler: Scheduler;
}

export interface HttpActionCtx extends ActionCtx {
  /** Values of the route's `:param` segments (coerced as the route's request.params schema says). */
  params: Record<string, string>;
  /** The query string as validated by the route's request.query schema; undefined without one. */
  query?: Record<string, unknown>;
  /** The Koa ctx.state of the route's middleware; undefined on a route without middleware. */
  state?: Record<string, unknown>;
}
