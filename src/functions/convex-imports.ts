import type { Plugin } from 'esbuild';

// The imports a Convex project's code makes, resolved to Portico when the
// modules are bundled, so the code runs unchanged:
//  - `./_generated/server`, `./_generated/api`, `./_generated/dataModel`
//    (from any depth: `../_generated/api`): what `npx convex dev` writes.
//    They are answered whether or not the files exist, and instead of them
//    when they do (those import the convex package's own builders);
//  - `convex/server` and `convex/values`: the builders, httpRouter, cronJobs,
//    `v` and ConvexError under Convex's names (`httpActionGeneric`, `anyApi`...).
// Everything else of the convex package (`convex/browser`...) resolves from
// the project's node_modules as usual.

const GENERATED = /(?:^|\/)_generated\/(server|api|dataModel)(?:\.d)?(?:\.[cm]?[jt]s)?$/;
const PACKAGE = /^convex\/(server|values)$/;
const NAMESPACE = 'portico-convex';

const BUILDERS = 'query, internalQuery, mutation, internalMutation, action, internalAction, httpAction, httpEndpoint';

const SOURCES: Record<string, string> = {
  'generated/server': `export { ${BUILDERS}, httpRouter, cronJobs } from 'portico';\n`,
  'generated/api': "export { api, internal } from 'portico';\nexport const components = Object.freeze({});\n",
  'generated/dataModel': 'export {};\n',
  'package/server': [
    'export {',
    '  httpRouter, HttpRouter, ROUTABLE_HTTP_METHODS, makeFunctionReference, defineSchema, defineTable, cronJobs,',
    '  httpAction as httpActionGeneric, httpEndpoint as httpEndpointGeneric,',
    '  query as queryGeneric, mutation as mutationGeneric, action as actionGeneric,',
    '  internalQuery as internalQueryGeneric, internalMutation as internalMutationGeneric, internalAction as internalActionGeneric,',
    '  api as anyApi,',
    "} from 'portico';",
    "import { v } from 'portico';",
    'export const componentsGeneric = () => Object.freeze({});',
    'export const paginationOptsValidator = v.object({',
    '  numItems: v.number(),',
    '  cursor: v.union(v.string(), v.null()),',
    '  endCursor: v.optional(v.union(v.string(), v.null())),',
    '  id: v.optional(v.number()),',
    '  maximumRowsRead: v.optional(v.number()),',
    '  maximumBytesRead: v.optional(v.number()),',
    '});',
    '',
  ].join('\n'),
  'package/values': "export { v, ConvexError } from 'portico';\n",
};

/** The esbuild plugin that answers those imports; `portico` itself is resolved by the loader's own plugin. */
export const convexImports: Plugin = {
  name: 'portico-convex-imports',
  setup(build) {
    build.onResolve({ filter: GENERATED }, (args) => {
      if (!args.path.startsWith('.')) return undefined;
      return { path: `generated/${GENERATED.exec(args.path)![1]}`, namespace: NAMESPACE };
    });
    build.onResolve({ filter: PACKAGE }, (args) => ({ path: `package/${PACKAGE.exec(args.path)![1]}`, namespace: NAMESPACE }));
    build.onLoad({ filter: /.*/, namespace: NAMESPACE }, (args) => ({ contents: SOURCES[args.path]!, loader: 'js' }));
  },
};
