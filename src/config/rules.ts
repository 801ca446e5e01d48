// Every problem the config loader can report, by stable id. `portico validate
// --format json` consumers match on these ids, so an id never changes meaning;
// a new kind of problem gets a new id. Severity lives here, not at the call
// site, so one rule cannot be an error in one place and a warning in another.

export type Severity = 'error' | 'warning';

export interface RuleInfo {
  severity: Severity;
  description: string;
}

export const RULES = {
  'config/unreadable': { severity: 'error', description: 'routes.yaml could not be read.' },
  'yaml/syntax': { severity: 'error', description: 'The file is not valid YAML.' },
  'yaml/duplicate-key': { severity: 'error', description: 'A mapping declares the same key twice.' },
  'yaml/warning': { severity: 'warning', description: 'The YAML parser found something suspicious, such as an unknown tag.' },
  'yaml/limit': { severity: 'error', description: 'The file nests deeper, holds more aliases, or expands through aliases to more values than any config needs (an alias bomb); refused without expanding it.' },
  'yaml/alias-cycle': { severity: 'error', description: 'An alias sits inside the node its anchor names, so the value would contain itself.' },

  'env/unset-variable': { severity: 'error', description: '${NAME} names a variable set neither in the environment nor in .env, and gives no default.' },
  'env/malformed-reference': { severity: 'error', description: 'A ${...} reference is not ${NAME} or ${NAME:-default}.' },
  'env/dotenv-unreadable': { severity: 'error', description: 'The .env file beside routes.yaml exists but could not be read.' },
  'env/invalid-port': { severity: 'error', description: '$PORT is used as the port but is not an integer from 0 to 65535.' },

  'schema/unknown-key': { severity: 'error', description: 'A key the schema does not define (often a typo).' },
  'schema/required': { severity: 'error', description: 'A required key is missing.' },
  'schema/type': { severity: 'error', description: 'A value has the wrong type.' },
  'schema/enum': { severity: 'error', description: 'A value is not one of the allowed values.' },
  'schema/const': { severity: 'error', description: 'A value differs from the only allowed value.' },
  'schema/pattern': { severity: 'error', description: 'A string does not have the expected form.' },
  'schema/minimum': { severity: 'error', description: 'A number is below its minimum.' },
  'schema/maximum': { severity: 'error', description: 'A number is above its maximum.' },
  'schema/minLength': { severity: 'error', description: 'A string is empty or too short.' },
  'schema/minItems': { severity: 'error', description: 'A list is empty or too short.' },
  'schema/uniqueItems': { severity: 'error', description: 'A list holds the same item twice.' },
  'schema/anyOf': { severity: 'error', description: 'A value matches none of the forms the key accepts.' },
  'schema/invalid': { severity: 'error', description: 'Any other schema violation.' },

  'routes/path-or-prefix': { severity: 'error', description: 'A route must have exactly one of path and pathPrefix.' },
  'routes/duplicate': { severity: 'error', description: 'Two routes declare the same method on the same path or prefix.' },
  'routes/ambiguous-param': { severity: 'error', description: 'Two routes with a common method have paths of the same shape (same static segments, parameters at the same positions).' },
  'routes/duplicate-param': { severity: 'error', description: 'A path names the same parameter twice.' },
  'routes/prefix-trailing-slash': { severity: 'error', description: 'A pathPrefix must end with /.' },
  'routes/reserved-path': { severity: 'error', description: 'A route sits under /_portico/ or under the function API prefix.' },
  'routes/handler-or-proxy': { severity: 'error', description: 'A route has both a handler and a proxy; it runs one or forwards, not both.' },
  'proxy/strip-without-prefix': { severity: 'error', description: 'proxy.stripPrefix on an exact path, or together with proxy.rewrite.' },
  'proxy/unknown-param': { severity: 'error', description: 'proxy.rewrite names a {param} the route path does not declare, or {*} on an exact path.' },
  'policies/rate-limit': { severity: 'error', description: 'A rate limit without requests or per once merged over the top-level one, a window that is not whole seconds, or a param: key the route path does not declare.' },
  'policies/request-schema': { severity: 'error', description: 'A request schema (inline, or the file its $ref names) is not JSON or not a valid JSON Schema, or a body schema sits on a route whose methods carry no body.' },
  'policies/middleware': { severity: 'error', description: 'A middleware names an npm package that is not installed.' },
  'routes/auth-without-provider': { severity: 'error', description: 'A route requires auth but no auth provider is configured, so every request would get 401.' },

  'cors/credentials-wildcard': { severity: 'error', description: "credentials: true together with origin '*'." },
  'cors/malformed-origin': { severity: 'error', description: "An origin is not '*' or scheme://host[:port] (optionally https://*.domain)." },
  'cors/empty-origins': { severity: 'warning', description: 'CORS is on but no origin is allowed, so every cross-origin request is refused.' },
  'cors/redundant-origins': { severity: 'warning', description: "An origins list holds '*' together with other origins." },

  'handler/missing-module': { severity: 'error', description: 'The handler module does not exist in the functions folder.' },
  'handler/missing-export': { severity: 'error', description: 'The handler module has no such export.' },
  'handler/not-http-action': { severity: 'error', description: 'The handler export is not an httpAction.' },
  'handler/inspect-failed': { severity: 'error', description: 'The handler module could not be inspected (it threw while loading).' },
  'router/invalid': { severity: 'error', description: 'The router file does not exist, lies outside the functions folder, or does not default-export an httpRouter().' },
  'router/unsupported-path': { severity: 'error', description: "A router route's path holds ':' or '*', which the route table would read as a parameter or a wildcard." },
  'functions/load': { severity: 'error', description: 'A function module does not build (TypeScript or JavaScript error) or throws while loading; reported at its own line.' },

  'config/functions-dir': { severity: 'error', description: 'The functions folder does not exist.' },
  'config/remote-backend': { severity: 'error', description: 'backend.kind remote needs url and adminKey.' },
  'config/storage-database': { severity: 'error', description: 'storage.kind database needs a local PostgreSQL backend.' },
  'config/malformed-url': { severity: 'error', description: 'A URL (publicUrl, backend url, postgres URL, JWKS URL) cannot be parsed or has parts it must not have.' },
  'config/missing-file': { severity: 'error', description: 'A file the config names (such as a JWKS file) does not exist.' },
  'config/ignored-key': { severity: 'warning', description: 'A key that has no effect with the chosen settings.' },
  'tls/unreadable': { severity: 'error', description: 'A server.tls file (cert, key or ca) does not exist or cannot be read.' },
  'tls/invalid': { severity: 'error', description: 'A server.tls file is not PEM, does not parse, or the key does not open with the passphrase.' },
  'tls/mismatch': { severity: 'error', description: 'server.tls.key is not the private key of the certificate in server.tls.cert.' },
  'tls/expired': { severity: 'error', description: 'The certificate in server.tls.cert has expired or is not valid yet.' },
  'tls/expiring': { severity: 'warning', description: 'The certificate in server.tls.cert expires within 30 days.' },
  'tls/redirect-port': { severity: 'error', description: 'server.tls.redirectPort is the same port as server.port.' },
  'config/trust-proxy': { severity: 'error', description: 'server.trustProxy names something that is not an IP address, a CIDR range or a known range name (loopback, linklocal, uniquelocal).' },
} as const satisfies Record<string, RuleInfo>;

export type RuleId = keyof typeof RULES;

export function severityOf(rule: RuleId): Severity {
  return RULES[rule].severity;
}
