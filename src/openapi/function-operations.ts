import type { RegisteredFunction } from '../functions/registration.js';
import { isValidator, type GenericValidator, type JSONSchema, type PropertyValidators } from '../values/validators.js';

// The function API in the OpenAPI document: every public query, mutation
// and action as `POST {prefix}/run/<module>/<function>`, its `args` and
// `returns` validators as JSON Schema (of the values as `json` format
// sends them). Internal functions are left out: clients cannot call them.

export function functionPaths(prefix: string, functions: ReadonlyMap<string, RegisteredFunction>): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const names = [...functions.keys()].sort();
  for (const name of names) {
    const fn = functions.get(name)!;
    if (fn.visibility !== 'public') continue;
    const [module, exportName = 'default'] = name.split(':') as [string, string?];
    paths[`${prefix}/run/${module}/${exportName}`] = {
      post: {
        operationId: `${fn.kind}_${name.replace(/[^A-Za-z0-9]+/g, '_')}`,
        summary: `${fn.kind} ${name}`,
        tags: ['functions'],
        security: [{}, { bearer: [] }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['args'],
                properties: { args: argsSchema(fn.args), format: { type: 'string', enum: ['json', 'convex_encoded_json'], default: 'json' } },
              },
            },
          },
        },
        responses: {
          '200': {
            description: 'The result, or the function error',
            content: {
              'application/json': {
                schema: {
                  oneOf: [
                    { type: 'object', required: ['status', 'value'], properties: { status: { const: 'success' }, value: fn.returns ? schemaOf(fn.returns) : {}, logLines: { type: 'array', items: { type: 'string' } } } },
                    { $ref: '#/components/schemas/FunctionError' },
                  ],
                },
              },
            },
          },
          '400': { $ref: '#/components/responses/BadRequest' },
          '401': { $ref: '#/components/responses/Unauthorized' },
          '413': { $ref: '#/components/responses/PayloadTooLarge' },
        },
      },
    };
  }
  return paths;
}

function argsSchema(args: RegisteredFunction['args']): unknown {
  if (args === null) return { type: 'object' };
  if (isValidator(args)) return schemaOf(args);
  const fields = args as PropertyValidators;
  const properties: Record<string, unknown> = {};
  const required: string[] = [];
  for (const [field, validator] of Object.entries(fields)) {
    properties[field] = schemaOf(validator);
    if (validator.isOptional !== 'optional') required.push(field);
  }
  return { type: 'object', properties, ...(required.length > 0 ? { required } : {}), additionalProperties: false };
}

/** The validator's JSON Schema, with Portico's own keyword as an OpenAPI extension. */
function schemaOf(validator: GenericValidator): unknown {
  return extend((validator as unknown as { json: JSONSchema }).json);
}

function extend(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(extend);
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) out[key === 'convexId' ? 'x-convex-table' : key] = key === 'properties' ? mapValues(value as Record<string, unknown>) : extend(value);
  return out;
}

function mapValues(properties: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(properties)) out[name] = extend(value);
  return out;
}
