// Builds the playground into dist/: bundles the page and its Web Worker with esbuild, copies the
// engine's wasm beside the worker, and turns the rule pack's rules and their unit tests into an
// examples chunk the page loads on first use (bundled: the page fetches nothing from elsewhere).
// It never builds the wasm itself (scripts/build-playground-wasm.sh does) and never serves.
//
// Usage: node build.mjs        (scripts/playground.sh runs it after the wasm build)
// SIGIL_PLAYGROUND_PKG=DIR points at another wasm-bindgen output than ./pkg (a mock, while developing).
import * as esbuild from 'esbuild';
import { readdirSync, readFileSync, mkdirSync, rmSync, copyFileSync, existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const pkgDir = resolve(process.env.SIGIL_PLAYGROUND_PKG || join(here, 'pkg'));
const dist = join(here, 'dist');
const rulesRoot = join(repo, 'sigma-rules', 'rules');

function fail(message) {
  console.error(`build.mjs: ${message}`);
  process.exit(1);
}

const engineJs = join(pkgDir, 'sigil_playground.js');
const engineWasm = join(pkgDir, 'sigil_playground_bg.wasm');
for (const file of [engineJs, engineWasm]) {
  if (!existsSync(file)) {
    fail(`${file} is missing: run scripts/build-playground-wasm.sh first (or scripts/playground.sh, which does)`);
  }
}

/** Every `*.yml` under dir that is not a `*.tests.yml`, sorted for a stable menu. */
function ruleFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...ruleFiles(path));
    else if (entry.name.endsWith('.yml') && !entry.name.endsWith('.tests.yml')) out.push(path);
  }
  return out.sort();
}

/**
 * One example: the rule text and its test cases laid out as JSON Lines, each case a run of lines
 * marked "should match" or "should not match" (a list of events stays one case, in order).
 */
function example(rulePath) {
  const ruleText = readFileSync(rulePath, 'utf8');
  const testsPath = rulePath.replace(/\.yml$/, '.tests.yml');
  const where = relative(repo, testsPath);
  let tests = {};
  if (existsSync(testsPath)) {
    const doc = YAML.parseDocument(readFileSync(testsPath, 'utf8'));
    if (doc.errors.length) {
      const e = doc.errors[0];
      fail(`${where}:${e.linePos?.[0]?.line ?? '?'}:${e.linePos?.[0]?.col ?? '?'}: ${e.message}`);
    }
    tests = doc.toJS() ?? {};
  }
  const lines = [];
  const cases = [];
  for (const [key, expect] of [['match', true], ['no_match', false]]) {
    const list = tests[key] ?? [];
    if (!Array.isArray(list)) fail(`${where}: \`${key}\` must be a list of cases (see sigma-rules/README.md)`);
    for (const item of list) {
      const events = Array.isArray(item) ? item : [item];
      cases.push({ expect, start: lines.length, count: events.length });
      for (const event of events) lines.push(JSON.stringify(event));
    }
  }
  const titles = [...ruleText.matchAll(/^title:\s*(.+)$/gm)].map((m) => m[1].trim().replace(/^['"]|['"]$/g, ''));
  const parts = relative(rulesRoot, rulePath).split(sep);
  return {
    path: relative(repo, rulePath).split(sep).join('/'),
    group: parts.length > 1 ? parts[0] : 'other',
    file: parts[parts.length - 1],
    // A correlation file's last document is the correlation: its title names the example best.
    title: titles[titles.length - 1] ?? parts[parts.length - 1],
    rule: ruleText,
    events: lines.join('\n') + (lines.length ? '\n' : ''),
    cases,
  };
}

function examples() {
  if (!existsSync(rulesRoot) || !statSync(rulesRoot).isDirectory()) fail(`${rulesRoot} is missing`);
  return ruleFiles(rulesRoot).map(example);
}

/** `import examples from 'virtual:examples'` resolves to the rule pack, read at build time. */
const examplesPlugin = {
  name: 'sigil-examples',
  setup(build) {
    build.onResolve({ filter: /^virtual:examples$/ }, () => ({ path: 'examples', namespace: 'sigil-examples' }));
    build.onLoad({ filter: /.*/, namespace: 'sigil-examples' }, () => ({
      contents: JSON.stringify(examples()),
      loader: 'json',
    }));
  },
};

rmSync(dist, { recursive: true, force: true });
mkdirSync(dist, { recursive: true });

const started = performance.now();
const result = await esbuild.build({
  absWorkingDir: here,
  entryPoints: { main: 'src/main.js', worker: 'src/worker.js', styles: 'src/styles.css' },
  outdir: dist,
  bundle: true,
  splitting: true,
  format: 'esm',
  target: ['chrome111', 'firefox113', 'safari16.4'],
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  chunkNames: 'chunks/[name]-[hash]',
  alias: { 'sigil-engine': engineJs },
  plugins: [examplesPlugin],
  metafile: true,
  logLevel: 'warning',
});
copyFileSync(join(here, 'src', 'index.html'), join(dist, 'index.html'));
copyFileSync(join(here, 'src', 'favicon.svg'), join(dist, 'favicon.svg'));
copyFileSync(engineWasm, join(dist, 'sigil_playground_bg.wasm'));

const outputs = Object.entries(result.metafile.outputs)
  .map(([file, info]) => `${relative(here, file)} ${info.bytes} B`)
  .join(', ');
console.log(`build.mjs: dist/ in ${Math.round(performance.now() - started)} ms: ${outputs}`);
