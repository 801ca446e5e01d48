// CORS checks: origins a browser could actually send, and policies browsers
// would refuse. Each problem is reported where it was written: a top-level
// mistake once at the top-level policy, not again at every route inheriting it.
import { effectiveCors } from './cors-policy.js';
import { checkOrigin } from './origin.js';
import { isRecord, type Unknown } from './raw.js';
import type { JsonPath, Reporter } from './source.js';

function lintOrigins(policy: Unknown, at: JsonPath, report: Reporter): void {
  if (!Array.isArray(policy.origins)) return;
  policy.origins.forEach((origin: unknown, i: number) => {
    if (typeof origin !== 'string') return;
    const problem = checkOrigin(origin);
    if (problem) report.at('cors/malformed-origin', [...at, 'origins', i], `malformed origin '${origin}': ${problem.reason}`, problem.hint);
  });
  if (policy.origins.includes('*') && policy.origins.length > 1) {
    report.at('cors/redundant-origins', [...at, 'origins'], "origins lists '*' with other origins; '*' already allows every origin", "keep only '*', or only the exact origins");
  }
}

const CREDENTIALS_HINT = 'list the allowed origins explicitly, or set credentials: false';

export function lintCors(data: Unknown, report: Reporter): void {
  const top = data.cors;
  if (isRecord(top)) {
    lintOrigins(top, ['cors'], report);
    const policy = effectiveCors(top, undefined)!;
    if (policy.credentials && policy.origins.includes('*')) {
      report.at('cors/credentials-wildcard', ['cors', 'credentials'], "credentials: true cannot be used with origin '*': browsers refuse credentialed responses to a wildcard origin", CREDENTIALS_HINT);
    }
    const originsKnown = 'origins' in top ? Array.isArray(top.origins) : !report.isMisspelled(['cors', 'origins']);
    if (policy.origins.length === 0 && originsKnown) {
      report.atKey('cors/empty-origins', ['cors'], 'the default CORS policy allows no origin, so browsers will refuse every cross-origin request', "add origins, or write cors: false if CORS is not wanted");
    }
  }

  if (!Array.isArray(data.routes)) return;
  data.routes.forEach((route: unknown, index: number) => {
    if (!isRecord(route) || !isRecord(route.cors)) return;
    const own = route.cors;
    const at: JsonPath = ['routes', index, 'cors'];
    lintOrigins(own, at, report);
    const policy = effectiveCors(top, own)!;
    // Only what the route itself changes: an inherited problem was reported above.
    if (policy.credentials && policy.origins.includes('*') && ('credentials' in own || 'origins' in own)) {
      const where = 'credentials' in own ? 'credentials' : 'origins';
      report.at(
        'cors/credentials-wildcard',
        [...at, where],
        "this route's CORS policy (merged over the top-level one) combines credentials: true with origin '*', which browsers refuse",
        CREDENTIALS_HINT,
      );
    }
    // A mistyped `origins` has its own schema error; an empty result is not news.
    const ownOrigins = 'origins' in own ? Array.isArray(own.origins) : undefined;
    const inherits = ownOrigins === undefined && !isRecord(top) && !report.isMisspelled([...at, 'origins']);
    if (policy.origins.length === 0 && (ownOrigins === true || inherits)) {
      report.atKey('cors/empty-origins', at, 'CORS is on for this route but no origin is allowed, so browsers will refuse every cross-origin request', 'add origins, or write cors: false');
    }
  });
}
