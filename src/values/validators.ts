// The public entry of validators: build them (`v`), print them, describe
// their encoded values as JSON Schema, and compile them into checkers whose
// failures read as Convex's. Each part lives in its own validator-*.ts file.

export {
  v,
  isValidator,
  VAny,
  VArray,
  VBoolean,
  VBytes,
  VFloat64,
  VId,
  VInt64,
  VLiteral,
  VNull,
  VObject,
  VRecord,
  VString,
  VUnion,
  type GenericValidator,
  type Infer,
  type ObjectType,
  type OptionalProperty,
  type PropertyValidators,
  type Validator,
  type VOptional,
} from './validator-builders.js';
export { isEncodedObject, type JSONSchema } from './validator-schema.js';
export {
  ARGUMENT_VALIDATION_ERROR,
  compileObjectValidator,
  compileValidator,
  explainMismatch,
  type CheckResult,
  type ValidatorOptions,
} from './validator-check.js';
