// Dependency rules for the pipeline's layers; run by `npm run deps`.
// Every import counts, type-only imports included (tsPreCompilationDeps: true).
// "Allowed" lists below always also allow npm packages (node_modules/) and node builtins (dependencyTypes 'core').

/** Forbid `from` folder importing anything outside `allowed` folders, npm packages and node builtins. */
function onlyImports(name, folder, allowed, comment) {
  return {
    name,
    comment,
    severity: 'error',
    from: { path: `^${folder}/` },
    to: { pathNot: `^(${[...allowed, 'node_modules'].join('|')})/`, dependencyTypesNot: ['core'] },
  };
}

const IO_BUILTINS = 'fs|fs/promises|net|http|https|child_process|dgram|dns|tls|worker_threads';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Cycles make load order fragile and layers meaningless; every import counts, type-only ones too.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-is-pure',
      comment: 'core/ is the pure domain model every layer builds on: it may import only core/, npm packages and builtins.',
      severity: 'error',
      from: { path: '^core/' },
      to: { pathNot: '^(core|node_modules)/', dependencyTypesNot: ['core'] },
    },
    {
      name: 'core-is-pure',
      comment: 'core/ does no I/O: file system, network, processes and threads belong to the layers above it.',
      severity: 'error',
      from: { path: '^core/' },
      to: { dependencyTypes: ['core'], path: `^(node:)?(${IO_BUILTINS})$` },
    },
    onlyImports('config-below-stages', 'config', ['core', 'config'],
      'config/ loads and validates settings for the stages, so it sits below them and sees only core/.'),
    {
      name: 'stages-see-only-core-and-config',
      comment: 'Pipeline stages (ingest, processors, storage, deadletter, alerts) are independent: each sees only core/, config/ and itself.',
      severity: 'error',
      from: { path: '^(ingest|processors|storage|deadletter|alerts)/' },
      to: { pathNot: ['^(core|config|node_modules)/', '^$1/'], dependencyTypesNot: ['core'] },
    },
    onlyImports('kafka-transport', 'kafka', ['core', 'kafka'],
      'kafka/ carries records between the roles of the scale-out topology; it knows the contracts in core/ only.'),
    onlyImports('capacity-layer', 'capacity', ['core', 'config', 'storage', 'capacity'],
      'capacity/ plans from stored statistics: it may read storage/ but not the live pipeline stages.'),
    onlyImports('server-layer', 'server', ['core', 'config', 'alerts', 'capacity', 'server'],
      'server/ exposes alerts and capacity over HTTP; everything else reaches it through its context, wired in app/.'),
    {
      name: 'routes-not-http',
      comment: 'Routes get their context from server/context.ts; importing server/http.ts would tie them to the server that mounts them.',
      severity: 'error',
      from: { path: '^server/routes/' },
      to: { path: '^server/http\\.ts$' },
    },
    onlyImports('console-layer', 'console', ['console'],
      'console/ is browser code bundled on its own: it talks to the pipeline over HTTP only, never by importing it.'),
    onlyImports('services-layer', 'services', ['core', 'storage', 'services'],
      'services/ starts and stops local brokers and databases; it knows nothing of the pipeline above storage/.'),
    onlyImports('dashboards-layer', 'dashboards', ['core', 'dashboards'],
      'dashboards/ generates Grafana JSON from the domain model alone.'),
    onlyImports('evaluation-layer', 'evaluation', ['core', 'config', 'processors', 'alerts', 'ingest', 'evaluation'],
      'evaluation/ replays detection offline: detectors, alerts and simulated ingest, never storage or the server.'),
    {
      name: 'app-only-from-entry-points',
      comment: 'app/ wires the whole pipeline together; only entry points (cli/, bench/) and tests may depend on it.',
      severity: 'error',
      from: { pathNot: '^(app|cli|bench|test)/' },
      to: { path: '^app/' },
    },
    {
      name: 'cli-only-from-cli-and-test',
      comment: 'cli/ is the outermost shell: nothing but itself and its tests depends on it.',
      severity: 'error',
      from: { pathNot: '^(cli|test)/' },
      to: { path: '^cli/' },
    },
    {
      name: 'test-only-from-test',
      comment: 'Test helpers and fixtures must never leak into shipped code.',
      severity: 'error',
      from: { pathNot: '^test/' },
      to: { path: '^test/' },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    // Also see imports that vanish on compilation (type-only), so they count for every rule.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
    skipAnalysisNotInRules: true,
  },
};
