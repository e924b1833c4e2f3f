type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Schema = { [key: string]: Json };

/** Keywords whose values are data, not schemas: a `nullable` inside them is left alone. */
const DATA_KEYWORDS = new Set(['example', 'examples', 'default', 'enum', 'const']);

/**
 * Rewrites OpenAPI 3.0's `nullable: true`, which @nestjs/swagger emits, as OpenAPI 3.1 (JSON Schema) says
 * it: `type: [T, "null"]`, or `anyOf: [<schema>, {type: "null"}]` for a reference. In 3.0 a nullable
 * reference cannot be written at all: `{nullable: true, allOf: [{$ref}]}` still requires the referenced
 * object, so validators such as Prism reject the null that the service sends. Returns a new document.
 */
export function toOpenApi31<T extends object>(document: T): T {
  return { ...(convert(document as unknown as Json) as Schema), openapi: '3.1.0' } as unknown as T;
}

function convert(node: Json): Json {
  if (Array.isArray(node)) return node.map(convert);
  if (node === null || typeof node !== 'object') return node;
  const copy: Schema = {};
  for (const [key, value] of Object.entries(node))
    copy[key] = DATA_KEYWORDS.has(key) ? value : convert(value);
  return copy.nullable === true ? nullableSchema(copy) : copy;
}

function nullableSchema({ nullable: _nullable, ...schema }: Schema): Schema {
  const { type, ...rest } = schema;
  if (typeof type === 'string' && !('allOf' in rest) && !('$ref' in rest)) {
    const withNull: Schema = { ...schema, type: [type, 'null'] };
    if (Array.isArray(withNull.enum) && !withNull.enum.includes(null))
      withNull.enum = [...withNull.enum, null];
    return withNull;
  }
  // A reference (Nest writes `{type: "object", nullable: true, allOf: [{$ref}]}`), or anything else.
  const annotations: Schema = {};
  const constraints: Schema = {};
  for (const [key, value] of Object.entries(rest))
    (ANNOTATIONS.has(key) ? annotations : constraints)[key] = value;
  const { allOf } = constraints;
  const onlyReference = Array.isArray(allOf) && allOf.length === 1 && Object.keys(constraints).length === 1;
  const inner = onlyReference ? allOf[0] : { ...(type === undefined ? {} : { type }), ...constraints };
  return { ...annotations, anyOf: [inner, { type: 'null' }] };
}

/** Keywords that describe a schema without constraining it, so they stay beside `anyOf`. */
const ANNOTATIONS = new Set(['description', 'title', 'example', 'examples', 'default', 'deprecated']);
