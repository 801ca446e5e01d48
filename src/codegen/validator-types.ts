// A `v` validator as the TypeScript type of the values it accepts, written
// out as text for the generated dataModel.d.ts (Doc<"table">).

interface ValidatorShape {
  kind: string;
  isOptional?: string;
  tableName?: string;
  value?: unknown;
  element?: ValidatorShape;
  fields?: Record<string, ValidatorShape>;
  key?: ValidatorShape;
  members?: ValidatorShape[];
}

function typeOfValidator(validator: unknown, indent = ''): string {
  const shape = validator as ValidatorShape | null;
  if (!shape || typeof shape !== 'object' || typeof shape.kind !== 'string') return 'any';
  switch (shape.kind) {
    case 'id':
      return `Id<${JSON.stringify(shape.tableName)}>`;
    case 'string':
      return 'string';
    case 'float64':
      return 'number';
    case 'int64':
      return 'bigint';
    case 'boolean':
      return 'boolean';
    case 'null':
      return 'null';
    case 'bytes':
      return 'ArrayBuffer';
    case 'literal':
      return typeof shape.value === 'bigint' ? `${shape.value}n` : JSON.stringify(shape.value);
    case 'array':
      return `Array<${typeOfValidator(shape.element, indent)}>`;
    case 'record':
      return `Record<${typeOfValidator(shape.key, indent)}, ${typeOfValidator(shape.value, indent)}>`;
    case 'union':
      return (shape.members ?? []).map((member) => typeOfValidator(member, indent)).join(' | ') || 'never';
    case 'object':
      return objectType(shape.fields ?? {}, indent);
    default:
      return 'any';
  }
}

/** `{ a: string; b?: number }` from a record of field validators. */
export function objectType(fields: Record<string, unknown>, indent = ''): string {
  const entries = Object.entries(fields);
  if (entries.length === 0) return '{}';
  const inner = `${indent}  `;
  const lines = entries.map(([name, validator]) => {
    const optional = (validator as ValidatorShape | null)?.isOptional === 'optional' ? '?' : '';
    const key = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(name) ? name : JSON.stringify(name);
    return `${inner}${key}${optional}: ${typeOfValidator(validator, inner)};`;
  });
  return `{\n${lines.join('\n')}\n${indent}}`;
}
