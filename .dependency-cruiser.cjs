/**
 * The layers of src/ (ARCHITECTURE.md), checked in CI by `npm run lint:deps`:
 *  - no import cycles;
 *  - the foundation (platform/, aws/, slack/) never reaches up into what uses it (commands/,
 *    approval/, workflows/, ingress/, worker/, handlers/);
 *  - production code never imports the local world or the tests.
 * Type-only imports count too: a type that lives in the wrong layer is a seam in the wrong place.
 */
const FOUNDATION = '^src/(platform|aws|slack)/';
const UPPER = '^src/(commands|approval|workflows|ingress|worker|handlers)/';

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'An import cycle hides which module owns what; move the shared part into a module both import.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'foundation-stays-below',
      severity: 'error',
      comment: 'platform/, aws/ and slack/ serve the verbs and entry points; they never import them.',
      from: { path: FOUNDATION },
      to: { path: UPPER },
    },
    {
      name: 'no-local-or-test-in-src',
      severity: 'error',
      comment: 'Production code never knows it is under test: the local world and the tests stay outside src/.',
      from: { path: '^src/' },
      to: { path: '^(local|test)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^(src|local|test)/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
