// Import rules for Trackline, checked by `npm run lint` (dependency-cruiser).
//
// Layers, top to bottom. A module may import from its own layer or any layer below it, never
// from one above. The engine (src/sync) defines its port (src/sync/port: the tracker interface,
// remote issue, the errors it reacts to, call context); the adapters (src/trackers) implement it,
// so the engine imports no adapter. Jobs and the connection registry wire adapters to the engine.
//
//   cli
//   api                          HTTP: routes, middleware, Bull Board, the metrics endpoint
//   runtime                      composition root (src/runtime.ts): builds the services
//   operator | intake | metrics  what the api and the CLI call; no imports between them
//   jobs                         BullMQ processors and the worker
//   connections                  a configured connection: its adapter and translator
//   trackers                     one folder per tracker, implementing src/sync/port
//   sync                         the engine: fields, three-way diff, strategies, its port
//   pacing | queues              shared budgets; queue names, job schemas
//   config                       env + TOML schema
//   support                      logger, Redis client, statement batching, small helpers
//   db                           schema, client, migrations
//
// The sandbox (top-level sandbox/) is a tool: only the CLI's sandbox and demo commands, the tests
// and the bench may import it, and it imports nothing of src/.
const layers = [
  ['cli'],
  ['api'],
  ['runtime'],
  ['operator', 'intake', 'metrics'],
  ['jobs'],
  ['connections'],
  ['trackers'],
  ['sync'],
  ['pacing', 'queues'],
  ['config'],
  ['support'],
  ['db'],
];

const modulePath = (name) => (name === 'runtime' ? '^src/runtime\\.ts$' : `^src/${name}/`);
const any = (names) => `(${names.map(modulePath).join('|')})`;

const layerRules = layers.flatMap((layer, index) => {
  const above = layers.slice(0, index).flat();
  const peers = layer.length > 1 ? layer : [];
  const rules = [];
  if (above.length > 0) {
    rules.push({
      name: `layer-${layer.join('-')}-imports-above`,
      comment: `${layer.join(' / ')} may not import from a layer above it (${above.join(', ')})`,
      severity: 'error',
      from: { path: any(layer) },
      to: { path: any(above) },
    });
  }
  for (const peer of peers) {
    rules.push({
      name: `layer-${peer}-imports-peer`,
      comment: `${peer} may not import its peers in the same layer (${peers.filter((p) => p !== peer).join(', ')})`,
      severity: 'error',
      from: { path: modulePath(peer) },
      to: { path: any(peers.filter((p) => p !== peer)) },
    });
  }
  return rules;
});

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Import cycles make modules impossible to understand, test or load on their own',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'sandbox-is-a-tool',
      comment: 'Only the CLI sandbox/demo commands, tests and the bench use the sandbox',
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/cli/(sandbox|demo)-command\\.ts$' },
      to: { path: '^sandbox/' },
    },
    {
      name: 'sandbox-stands-alone',
      comment: 'The sandbox emulates the trackers from their documentation, not from our adapters',
      severity: 'error',
      from: { path: '^sandbox/' },
      to: { path: '^src/' },
    },
    {
      name: 'product-does-not-import-tests',
      severity: 'error',
      from: { path: '^(src|sandbox)/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'not-to-dev-dep',
      comment: 'Product code may not depend on a devDependency (it is absent in production installs)',
      severity: 'error',
      from: { path: '^src/' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
