/**
 * camprobe's layers (docs/architecture.md), lowest first. A module may import from its own
 * layer and the layers below it, never from a layer above. `npm test` runs this through
 * test/architecture.test.ts; `npx depcruise src` shows the same report by hand.
 */
const LAYERS = [
  // The leaf: outcomes (steps, reasons, ProbeError, run records), secrets, durations, text.
  { name: 'core', path: '^src/core/' },
  // Talking to the service: the JSON-RPC client, TLS, network errors, contract checks.
  { name: 'transport', path: '^src/(rpc|contract)/' },
  { name: 'config', path: '^src/config/' },
  { name: 'probes', path: '^src/(auth|probes)/' },
  { name: 'runner', path: '^src/runner/' },
  { name: 'services', path: '^src/(scheduler|metrics)/' },
  // Entry points: the daemon, camprobe's HTTP server, reporters, the command line.
  { name: 'app', path: '^src/(daemon|http|report|status|cli|once|logger|version)' },
];

const upward = LAYERS.flatMap((layer, i) =>
  LAYERS.slice(i + 1).map((above) => ({
    name: `${layer.name}-not-to-${above.name}`,
    comment: `${layer.name} sits below ${above.name} (docs/architecture.md): move the shared part down instead`,
    severity: 'error',
    from: { path: layer.path },
    to: { path: above.path },
  })),
);

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'an import cycle (type-only imports count): one of the modules belongs in a lower layer',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    ...upward,
    {
      name: 'simulator-stands-alone',
      comment: 'the simulator stands for the real service: it shares no code with camprobe, so camprobe mistakes are not mirrored',
      severity: 'error',
      from: { path: '^src/simulator/' },
      to: { path: '^src/', pathNot: '^src/simulator/' },
    },
    {
      name: 'only-app-starts-the-simulator',
      comment: 'only the command line (demo) starts the simulator',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/simulator/', '^src/cli\\.ts$'] },
      to: { path: '^src/simulator/' },
    },
    {
      name: 'src-not-to-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'every-module-in-a-layer',
      comment: 'a module outside every layer: add its folder to LAYERS in .dependency-cruiser.cjs and docs/architecture.md',
      severity: 'error',
      from: { path: '^src/', pathNot: [...LAYERS.map((l) => l.path), '^src/simulator/'] },
      to: {},
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    // Type-only imports are dependencies too: a cycle through types is still a cycle.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|node_modules)/' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
