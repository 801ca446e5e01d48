// The public API of `portico`: what function modules import.
//
//   import { httpAction, query, mutation, v } from 'portico';
//
// It stays small on purpose: every function module loads it. Embedding the
// gateway in an app (Runtime, the Koa middleware) is `portico/server`.

export {
  httpAction,
  httpEndpoint,
  query,
  mutation,
  action,
  internalQuery,
  internalMutation,
  internalAction,
  type RegisteredFunction,
  type HttpAction,
} from './functions/registration.js';
export type {
  QueryCtx,
  MutationCtx,
  ActionCtx,
  HttpActionCtx,
  Auth,
  UserIdentity,
  StorageReader,
  StorageWriter,
  StorageActionWriter,
  FileMetadata,
} from './functions/context-types.js';
export { api, internal, makeFunctionReference, type FunctionReference } from './functions/references.js';
export { cronJobs, Crons, type CronJob, type CronSchedule, type DayOfWeek } from './scheduler/crons.js';
export type { Scheduler } from './functions/scheduler-types.js';
export { httpRouter, HttpRouter, ROUTABLE_HTTP_METHODS, type RouteSpec, type RoutableMethod } from './functions/http-router.js';
export { v, type Infer, type Validator, type PropertyValidators, type ObjectType } from './values/validators.js';
export { ConvexError } from './values/errors.js';
export type { Value } from './values/value.js';
export { defineSchema, defineTable } from './database/schema-definition.js';
export type {
  GenericId,
  GenericId as Id,
  GenericDocument,
  GenericDocument as Doc,
  DatabaseReader,
  DatabaseWriter,
  PaginationOptions,
  PaginationResult,
} from './database/api-types.js';
