// The "Dependency direction" table of docs/architecture.md, checked by `npm run lint:deps`.
//
//   layer 1  main/
//   layer 2  http/ (with http/routes/), maintenance/    the drivers: a request or a timer
//   layer 3  connection/  sync/  webhooks/  events/  outbound/   the capabilities
//   layer 3b mappings/                                   tenants' mappings, used by the capabilities and handlers
//   layer 4  store/
//   layer 5  resources/  shopify/
//   base     platform/  config.ts  context.ts  errors.ts  generated/
//
// maintenance/ is a driver next to http/: only main/ starts it, and it calls the store and webhooks/
// (dead-letter trimming), so it cannot sit inside layer 3 without a capability importing a sibling.
//
// Type-only imports count like any other for the layers (a type names the layer it comes from); the one
// exception is context.ts, which may name the store's Db type (store/schema.ts) and the mapper pool's type
// (mappings/pool.ts), nothing else there.
// Cycles only count when they exist at run time: `import type` is erased (verbatimModuleSyntax).
//
// Violations that predate this check live in .dependency-cruiser-known-violations.json so that lint
// stays green while they are fixed; new ones fail. Regenerate it with `npm run lint:deps:baseline`
// only when a known violation has been removed, never to admit a new one.

const MAIN = '^src/main/';
const DRIVERS = '^src/(http|maintenance)/';
const CAPABILITIES = '^src/(connection|sync|webhooks|events|outbound)/';
const MAPPINGS = '^src/mappings/';
const STORE = '^src/store/';
const OUTSIDE = '^src/(resources|shopify)/';
const BASE = ['^src/(platform|generated)/', '^src/(config|context|errors)\\.ts$'];
const LAYERS = [MAIN, DRIVERS, CAPABILITIES, MAPPINGS, STORE, OUTSIDE];

/* global module */
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No two modules import each other, directly or through others (type-only links excepted).',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'src-not-to-scripts-or-test',
      severity: 'error',
      comment: 'The service never depends on tooling or tests.',
      from: { path: '^src/' },
      to: { path: '^(scripts|test|migrations|sdk)/' },
    },
    {
      name: 'drivers-not-up',
      severity: 'error',
      comment: 'Layer 2 (http/, maintenance/) imports only layers below it.',
      from: { path: DRIVERS },
      to: { path: MAIN },
    },
    {
      name: 'drivers-independent',
      severity: 'error',
      comment: 'http/ and maintenance/ are separate entry points and do not import each other.',
      from: { path: '^src/(http|maintenance)/' },
      to: { path: DRIVERS, pathNot: '^src/$1/' },
    },
    {
      name: 'capabilities-not-up',
      severity: 'error',
      comment: 'Layer 3 (connection/, sync/, webhooks/, events/, outbound/) imports only layers below it.',
      from: { path: CAPABILITIES },
      to: { path: [MAIN, DRIVERS] },
    },
    {
      name: 'capabilities-independent',
      severity: 'error',
      comment:
        'Capabilities do not import each other; connection/ may use sync/enqueue.ts (queue the initial sync, cancel queued syncs), outbound/ events/event-body.ts (a webhook carries the event as the feed serves it).',
      from: { path: '^src/(connection|sync|webhooks|events|outbound)/' },
      to: { path: CAPABILITIES, pathNot: ['^src/$1/', '^src/sync/enqueue\\.ts$', '^src/events/event-body\\.ts$'] },
    },
    {
      name: 'capabilities-to-event-body-only-from-outbound',
      severity: 'error',
      comment: 'The outbound/ → events/event-body.ts exception is for outbound/ alone.',
      from: { path: '^src/(connection|sync|webhooks)/' },
      to: { path: '^src/events/event-body\\.ts$' },
    },
    {
      name: 'mappings-not-up',
      severity: 'error',
      comment: 'mappings/ (layer 3b) is used by the capabilities and handlers and imports only the store and below.',
      from: { path: MAPPINGS },
      to: { path: [MAIN, DRIVERS, CAPABILITIES] },
    },
    {
      name: 'capabilities-to-enqueue-only-from-connection',
      severity: 'error',
      comment: 'The connection/ → sync/enqueue.ts exception is for connection/ alone.',
      from: { path: '^src/(webhooks|events|outbound)/' },
      to: { path: '^src/sync/enqueue\\.ts$' },
    },
    {
      name: 'store-not-up',
      severity: 'error',
      comment: 'The store (layer 4) never knows HTTP, the capabilities or the composition roots.',
      from: { path: STORE },
      to: { path: [MAIN, DRIVERS, CAPABILITIES, MAPPINGS] },
    },
    {
      name: 'outside-not-up',
      severity: 'error',
      comment: 'resources/ and shopify/ (layer 5) import nothing above them.',
      from: { path: OUTSIDE },
      to: { path: [MAIN, DRIVERS, CAPABILITIES, MAPPINGS, STORE] },
    },
    {
      name: 'shopify-not-to-resources',
      severity: 'error',
      comment: 'Inside layer 5 the registry uses the Shopify client (documents, gids), never the reverse.',
      from: { path: '^src/shopify/' },
      to: { path: '^src/resources/' },
    },
    {
      name: 'shopify-no-db-or-metrics',
      severity: 'error',
      comment: 'The Shopify client never knows the database or the metrics registry: it reports through its observer.',
      from: { path: '^src/shopify/' },
      to: { path: '^src/platform/(db|metrics)\\.ts$' },
    },
    {
      name: 'base-not-to-layers',
      severity: 'error',
      comment: 'The base holds no logic of the layers and imports nothing from them.',
      from: { path: BASE, pathNot: '^src/context\\.ts$' },
      to: { path: LAYERS },
    },
    {
      name: 'context-names-store-types-only',
      severity: 'error',
      comment: "context.ts only names the infrastructure's types: from the layers, just the store's Db type, type-only.",
      from: { path: '^src/context\\.ts$' },
      to: { path: LAYERS, pathNot: ['^src/store/schema\\.ts$', '^src/mappings/pool\\.ts$'] },
    },
    {
      name: 'context-type-only',
      severity: 'error',
      comment: 'context.ts imports from the store as types only, so the base loads no store code.',
      from: { path: '^src/context\\.ts$' },
      to: { path: LAYERS, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      comment: 'An import that resolves to nothing on disk.',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
    {
      name: 'no-non-package-json',
      severity: 'error',
      comment: 'A package imported by the service but missing from package.json (works only by accident of hoisting).',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
