// End-to-end test of the built playground (dist/) in Debian's headless Chromium, driven by npm's
// playwright-core: it serves dist/ on 127.0.0.1 itself, types rules and events into the page,
// checks alerts, diagnostics, explanations, share links, the runaway cut-off, rule-test export,
// examples and the OCSF view, and compares the page's alerts and OCSF findings with `sigil hunt`
// (and its OCSF event with `sigil normalize`) byte for byte. It ends with one
// line `N passed, N failed` (scripts/test.sh counts it) and exits non-zero on any failure.
//
// Usage: node web-playground/www/tests/e2e.mjs   (after scripts/playground.sh; SIGIL_BIN = the CLI)
import { chromium } from 'playwright-core';
import { createServer } from 'node:http';
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as fixtures from './fixtures.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const www = resolve(here, '..');
const repo = resolve(www, '..', '..');
const dist = join(www, 'dist');
const sigil = resolve(repo, process.env.SIGIL_BIN || 'target/debug/sigil');
const screenshotPath = join(repo, 'target', 'playground-e2e.png');
const ocsfScreenshotPath = join(repo, 'target', 'playground-ocsf.png');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
/** The engine's wasm, gzipped, stays under this (it was 815 kB with the OCSF view). */
const WASM_GZ_LIMIT = 1_500_000;

for (const [what, path, fix] of [
  ['the built page', join(dist, 'index.html'), 'run scripts/playground.sh'],
  ['the sigil CLI', sigil, 'run cargo build -p sigil-cli, or set SIGIL_BIN'],
  ['Chromium', CHROMIUM, 'run scripts/setup-chromium.sh'],
]) {
  if (!existsSync(path)) {
    console.error(`e2e: ${what} is missing at ${path}: ${fix}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}

// ---- a static server for dist/ -------------------------------------------------------------

const MIME = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.json': 'application/json' };
const offsite = [];
const server = createServer((req, res) => {
  const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  const file = normalize(join(dist, path === '/' ? 'index.html' : path));
  if (!file.startsWith(dist + sep) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404).end('not found');
    return;
  }
  res.writeHead(200, { 'content-type': MIME[extname(file)] || 'application/octet-stream', 'cache-control': 'no-store' });
  res.end(readFileSync(file));
});
await new Promise((ok) => server.listen(0, '127.0.0.1', ok));
const base = `http://127.0.0.1:${server.address().port}/`;

// ---- helpers -------------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true });
// Everything must come from dist/: any other request is recorded and fails the load check.
await context.route('**/*', (route) => {
  const url = route.request().url();
  if (url.startsWith(base) || url.startsWith('blob:') || url.startsWith('data:')) return route.continue();
  offsite.push(url);
  return route.abort();
});

const temp = mkdtempSync(join(tmpdir(), 'sigil-e2e-'));
const results = [];

async function check(name, body) {
  const started = Date.now();
  try {
    await body();
    results.push(true);
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
  } catch (e) {
    results.push(false);
    console.log(`FAIL ${name}: ${e?.stack || e}`);
    const shot = join(repo, 'target', `playground-e2e-failed-${results.length}.png`);
    await page.screenshot({ path: shot }).then(() => console.log(`     screenshot of the failure: ${shot}`), () => {});
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

function equal(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

const editor = (page, pane) => page.locator(`.pane-${pane} .cm-content`);

/** Empties a CodeMirror pane through the keyboard. */
async function clear(page, pane) {
  await editor(page, pane).click();
  await page.keyboard.press('ControlOrMeta+a');
  await page.keyboard.press('Delete');
}

/** Types text key by key. The editor indents new lines itself, so each line's own indentation replaces it. */
async function typeLines(page, pane, text) {
  await clear(page, pane);
  const lines = text.replace(/\n$/, '').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (i > 0) {
      await page.keyboard.press('Enter');
      await page.keyboard.press('Shift+Home');
    }
    if (lines[i]) await page.keyboard.type(lines[i]);
    else if (i > 0) await page.keyboard.press('Delete');
  }
}

/** Replaces a pane's text in one input event, as a paste does. */
async function paste(page, pane, text) {
  await clear(page, pane);
  await page.keyboard.insertText(text);
}

async function paneText(page, pane) {
  return page.evaluate((p) => window.sigilPlayground.state()[p], pane);
}

/** Waits until an evaluation newer than `after` has been shown, and none is pending (the page's flag). */
async function evaluated(page, after) {
  await page.waitForFunction(
    (n) => Number(document.body.dataset.evaluations || 0) > n && document.body.dataset.pending === 'false',
    after,
    { timeout: 20000 },
  );
}

const evaluations = (page) => page.evaluate(() => Number(document.body.dataset.evaluations || 0));

function hunt(ruleText, eventsText, format = 'jsonl') {
  const dir = mkdtempSync(join(temp, 'hunt-'));
  writeFileSync(join(dir, 'rule.yml'), ruleText);
  writeFileSync(join(dir, 'events.jsonl'), eventsText);
  return execFileSync(sigil, ['hunt', '--rules', 'rule.yml', 'events.jsonl', '--format', format], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** `sigil normalize --to ocsf` of one event line: its one output line. */
function normalizeLine(eventText) {
  const dir = mkdtempSync(join(temp, 'normalize-'));
  writeFileSync(join(dir, 'events.jsonl'), eventText + '\n');
  return execFileSync(sigil, ['normalize', '--to', 'ocsf', 'events.jsonl'], { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** Waits until the OCSF view has rendered after `after` renders, with nothing pending (the page's flags). */
async function ocsfShown(page, after) {
  await page.waitForFunction(
    (n) => Number(document.body.dataset.ocsfRenders || 0) > n && document.body.dataset.ocsfPending === 'false' && document.body.dataset.pending === 'false',
    after,
    { timeout: 20000 },
  );
}

const ocsfRenders = (page) => page.evaluate(() => Number(document.body.dataset.ocsfRenders || 0));

/** Puts the events cursor on a 1-based line, as a click there does. */
async function clickEventLine(page, line) {
  await page.locator('.pane-events .cm-line').nth(line - 1).click({ position: { x: 4, y: 4 } });
}

async function alertsShown(page) {
  return page.$$eval('.alert-row', (rows) => rows.map((r) => ({ rule: r.dataset.rule, title: r.querySelector('.alert-title').textContent, line: r.querySelector('.alert-line').textContent })));
}

// ---- the checks ----------------------------------------------------------------------------

const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));
let firstResultsMs = null;

await check('1. the built page loads and shows the engine version', async () => {
  await page.goto(base);
  await page.waitForFunction(() => /^sigil \d+\.\d+\.\d+/.test(document.getElementById('version').textContent), null, { timeout: 20000 });
  await page.waitForFunction(() => document.body.dataset.firstResultsMs, null, { timeout: 20000 });
  firstResultsMs = Number(await page.evaluate(() => document.body.dataset.firstResultsMs));
  const version = await page.textContent('#version');
  assert(/\(plan format \d+\)/.test(version), `the version names the plan format: ${version}`);
  equal(offsite.length, 0, `requests outside dist/ (${offsite.join(', ')})`);
});

await check('2. a rule and events typed on the keyboard raise the expected alerts', async () => {
  const before = await evaluations(page);
  await typeLines(page, 'rule', fixtures.detectionRule);
  await typeLines(page, 'events', fixtures.detectionEvents);
  await evaluated(page, before);
  equal(await paneText(page, 'rule'), fixtures.detectionRule.replace(/\n$/, ''), 'the rule as typed');
  equal(await paneText(page, 'events'), fixtures.detectionEvents.replace(/\n$/, ''), 'the events as typed');
  const alerts = await alertsShown(page);
  equal(JSON.stringify(alerts.map((a) => a.line)), JSON.stringify(fixtures.detectionAlertLines.map((n) => `event line ${n}`)), 'alert lines');
  assert(alerts.every((a) => a.title === fixtures.detectionTitle), `alert titles: ${alerts.map((a) => a.title)}`);
  equal(await page.textContent('#alert-count'), String(fixtures.detectionAlertLines.length), 'alert count');
  assert(/ms\/event/.test(await page.textContent('#status')), 'the status shows the time per event');
});

await check('3. the page and `sigil hunt` print the same alert lines (a detection, and a correlation over several documents)', async () => {
  const state = await page.evaluate(() => window.sigilPlayground.state());
  const cli = hunt(state.rule, state.events);
  assert(cli.trim().split('\n').length === fixtures.detectionAlertLines.length, `the CLI raised ${cli.trim().split('\n').length} alerts`);
  equal(await page.evaluate(() => window.sigilPlayground.outputText()), cli, 'detection: page alerts_jsonl vs sigil hunt');

  const before = await evaluations(page);
  await paste(page, 'rule', fixtures.correlationRule);
  await paste(page, 'events', fixtures.correlationEvents);
  await evaluated(page, before);
  const shown = await alertsShown(page);
  assert(shown.some((a) => a.title === fixtures.correlationTitle), `the correlation fired in the page: ${shown.map((a) => a.title)}`);
  const cli2 = hunt(fixtures.correlationRule, fixtures.correlationEvents);
  assert(cli2.includes('"kind":"correlation"') || cli2.includes('"kind": "correlation"'), 'the CLI raised the correlation');
  equal(await page.evaluate(() => window.sigilPlayground.outputText()), cli2, 'correlation: page alerts_jsonl vs sigil hunt');
});

await check('4. a broken rule shows a diagnostic in the gutter at the right line', async () => {
  const before = await evaluations(page);
  await paste(page, 'rule', fixtures.brokenRule);
  await evaluated(page, before);
  const marker = page.locator('.pane-rule .cm-gutter-lint .cm-lint-marker-error').first();
  await marker.waitFor({ timeout: 10000 });
  // The marker's gutter row sits level with the line-number row of the broken line.
  const markerBox = await marker.boundingBox();
  const numbers = await page.$$eval('.pane-rule .cm-lineNumbers .cm-gutterElement', (els) =>
    els.map((e) => ({ text: e.textContent, top: e.getBoundingClientRect().top, bottom: e.getBoundingClientRect().bottom })),
  );
  const middle = markerBox.y + markerBox.height / 2;
  const row = numbers.find((n) => n.text && middle >= n.top && middle <= n.bottom);
  equal(row?.text, String(fixtures.brokenLine), 'the line of the gutter marker');
  await marker.hover();
  const tooltip = page.locator('.cm-tooltip-lint');
  await tooltip.waitFor({ timeout: 5000 });
  assert((await tooltip.textContent()).includes('nosuchmodifier'), `the hover shows the message: ${await tooltip.textContent()}`);
  await page.mouse.move(0, 0);
  await tooltip.waitFor({ state: 'detached', timeout: 5000 });
  assert((await page.getAttribute('#status', 'data-state')) === 'error', 'the status shows the error');
  assert((await page.textContent('#status')).includes(`rule.yml:${fixtures.brokenLine}:`), `the status names the line: ${await page.textContent('#status')}`);
});

await check('5. clicking an alert explains it, with the matched text highlighted in the event', async () => {
  const before = await evaluations(page);
  await paste(page, 'rule', fixtures.detectionRule);
  await paste(page, 'events', fixtures.detectionEvents);
  await evaluated(page, before);
  await page.locator('.alert-row').first().click();
  await page.locator('#explain .explanation').waitFor({ timeout: 10000 });
  const tree = await page.textContent('#explain .cond-tree');
  assert(tree.includes('true') && tree.includes('selection'), `the condition tree: ${tree}`);
  const marks = await page.$$eval('#explain .event-json mark', (ms) => ms.map((m) => m.textContent));
  assert(marks.includes(JSON.stringify(fixtures.detectionMatchedValue)), `highlighted: ${marks.join(', ')}`);
  const items = await page.textContent('#explain .selection');
  assert(items.includes(fixtures.detectionMatchedField), `the selection lists the field: ${items}`);
});

await check('6. a share link opened in a new page restores the rule, events and options', async () => {
  await page.click('input[name=routing][value=all] + span');
  await page.check('input[name=pipeline][value=ecs]');
  await page.click('#share-button');
  await page.waitForFunction(() => document.getElementById('share-link').value.includes('#s='));
  const link = await page.inputValue('#share-link');
  const expected = await page.evaluate(() => window.sigilPlayground.state());
  const other = await context.newPage();
  await other.goto(link);
  await other.waitForFunction(() => document.body.dataset.evaluations, null, { timeout: 20000 });
  const restored = await other.evaluate(() => window.sigilPlayground.state());
  equal(restored.rule, expected.rule, 'rule');
  equal(restored.events, expected.events, 'events');
  equal(restored.routing, 'all', 'routing');
  equal(JSON.stringify(restored.pipelines), '["ecs"]', 'pipelines');
  assert((await other.textContent('#cli-line')).includes('--logsource all --pipeline ecs'), 'the CLI line follows the options');
  await other.close();
  await page.click('input[name=routing][value=auto] + span');
  await page.uncheck('input[name=pipeline][value=ecs]');
});

await check('7. a runaway evaluation is cut off: the worker is terminated, restarted, and evaluates again', async () => {
  const slow = await context.newPage();
  await slow.goto(`${base}?worker_timeout_ms=150`);
  await slow.waitForFunction(() => document.body.dataset.evaluations, null, { timeout: 20000 });
  const generation = await slow.evaluate(() => Number(document.body.dataset.workerGeneration));
  const big = join(temp, 'big.jsonl');
  writeFileSync(big, fixtures.manyEvents(150000));
  await slow.setInputFiles('#events-file', big);
  await slow.waitForFunction(() => document.getElementById('status').dataset.state === 'timeout', null, { timeout: 30000 });
  assert((await slow.textContent('#status')).includes('evaluation stopped after 0.15 s'), await slow.textContent('#status'));
  await slow.waitForFunction((g) => Number(document.body.dataset.workerGeneration) > g, generation, { timeout: 20000 });
  const before = await evaluations(slow);
  await paste(slow, 'events', fixtures.detectionEvents);
  await paste(slow, 'rule', fixtures.detectionRule);
  await evaluated(slow, before);
  equal((await alertsShown(slow)).length, fixtures.detectionAlertLines.length, 'alerts after the restart');
  await slow.close();
});

await check('8. rule tests: marked events export as RULE.tests.yml, and `sigil test` passes it', async () => {
  const before = await evaluations(page);
  await paste(page, 'rule', fixtures.detectionRule);
  await paste(page, 'events', fixtures.detectionEvents);
  await evaluated(page, before);
  await page.click('.tab[data-tab=tests]');
  // Gutter clicks: once = should match, twice = should not match.
  const gutterRows = page.locator('.pane-events .cm-case-gutter .cm-gutterElement');
  for (const [line, expect] of fixtures.detectionMarks) {
    const row = gutterRows.nth(line); // row 0 is the gutter's spacer
    await row.click();
    if (expect === 'no_match') await row.click();
  }
  const after = await evaluations(page);
  await page.waitForFunction((n) => Number(document.body.dataset.evaluations) > n, after - 1);
  await page.waitForFunction((count) => document.querySelectorAll('#tests .case-row.case-pass').length === count, fixtures.detectionMarks.length, { timeout: 10000 });
  equal(await page.textContent('#tests-summary'), `${fixtures.detectionMarks.length} of ${fixtures.detectionMarks.length} cases pass`, 'summary');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#tests-download')]);
  equal(download.suggestedFilename(), 'rule.tests.yml', 'the file name');
  const dir = join(temp, 'rule-test');
  mkdirSync(dir);
  await download.saveAs(join(dir, 'rule.tests.yml'));
  writeFileSync(join(dir, 'rule.yml'), await paneText(page, 'rule'));
  const out = execFileSync(sigil, ['test', dir], { encoding: 'utf8' });
  equal(out.trim().split('\n').pop(), `${fixtures.detectionMarks.length} passed, 0 failed`, 'sigil test');
  // A wrong mark fails in the page too: flip one "should match" case to "should not match".
  const [line] = fixtures.detectionMarks.find(([, e]) => e === 'match');
  await gutterRows.nth(line).click();
  await page.waitForFunction(() => document.querySelectorAll('#tests .case-row.case-fail').length === 1, null, { timeout: 10000 });
});

await check('9. an example from the rule pack loads with one click and fires on its test events', async () => {
  await page.click('#examples-button');
  const item = page.locator(`.example[data-path="${fixtures.examplePath}"]`);
  await item.waitFor({ timeout: 10000 });
  const before = await evaluations(page);
  await item.click();
  await evaluated(page, before);
  equal(await page.inputValue('#rule-file'), fixtures.examplePath.split('/').pop(), 'rule file name');
  equal(await paneText(page, 'rule'), readFileSync(join(repo, fixtures.examplePath), 'utf8'), 'the rule text');
  assert((await alertsShown(page)).length >= 2, 'the example fires on its match cases');
  await page.click('.tab[data-tab=tests]');
  await page.waitForFunction(() => document.querySelectorAll('#tests .case-row').length > 0 && document.querySelectorAll('#tests .case-row:not(.case-pass)').length === 0, null, { timeout: 10000 });
  // Leave a readable screenshot: the example's alerts with the first one explained.
  await page.click('.tab[data-tab=alerts]');
  await page.locator('.alert-row').first().click();
  await page.locator('#explain .explanation').waitFor({ timeout: 10000 });
});

await page.screenshot({ path: screenshotPath });

await check('10. the OCSF view shows the selected CloudTrail event as OCSF and each alert as `sigil hunt --format ocsf` prints it', async () => {
  for (const example of fixtures.ocsfExamples) {
    await page.click('.tab[data-tab=alerts]');
    await page.click('#examples-button');
    const item = page.locator(`.example[data-path="${example.path}"]`);
    await item.waitFor({ timeout: 10000 });
    const before = await evaluations(page);
    await item.click();
    await evaluated(page, before);
    const state = await page.evaluate(() => window.sigilPlayground.state());
    const cli = hunt(state.rule, state.events, 'ocsf');
    const cliLines = cli.trim().split('\n');
    assert(cliLines.length >= 1 && cliLines.every((l) => JSON.parse(l).class_uid === 2004), `sigil hunt --format ocsf printed findings: ${cli.slice(0, 200)}`);
    const shown = await ocsfRenders(page);
    await page.click('.tab[data-tab=ocsf]');
    await clickEventLine(page, example.eventLine);
    await ocsfShown(page, shown);
    await page.waitForFunction((line) => document.getElementById('ocsf-event-where')?.textContent.startsWith(`line ${line}`), example.eventLine, { timeout: 10000 });
    // The event: the class the mapping gives, and `sigil normalize --to ocsf`'s line, byte for byte.
    const classUid = await page.getAttribute('#ocsf-class-uid', 'data-class-uid');
    equal(Number(classUid), example.eventClass, `${example.path}: class_uid of event line ${example.eventLine}`);
    const eventText = state.events.split('\n')[example.eventLine - 1];
    const normalized = normalizeLine(eventText);
    equal((await page.evaluate(() => window.sigilPlayground.ocsfEventLine())) + '\n', normalized, `${example.path}: the event's OCSF vs sigil normalize`);
    const eventShown = JSON.parse(await page.textContent('#ocsf-event'));
    equal(eventShown.class_uid, example.eventClass, 'the class_uid shown');
    equal(JSON.stringify(eventShown), JSON.stringify(JSON.parse(normalized)), `${example.path}: the OCSF object shown`);
    // The findings: `sigil hunt --format ocsf`, byte for byte, and each one shown pretty-printed.
    equal(await page.evaluate(() => window.sigilPlayground.ocsfFindingsText()), cli, `${example.path}: findings vs sigil hunt --format ocsf`);
    const findingsShown = await page.$$eval('#ocsf .finding pre', (pres) => pres.map((p) => p.textContent));
    equal(findingsShown.length, cliLines.length, `${example.path}: findings shown`);
    findingsShown.forEach((text, i) => equal(JSON.stringify(JSON.parse(text)), JSON.stringify(JSON.parse(cliLines[i])), `${example.path}: finding ${i + 1} shown`));
    equal(await page.textContent('#ocsf-findings-count'), String(cliLines.length), 'the findings count');
    const kinds = cliLines.map((l) => (JSON.parse(l).finding_info.related_events ? 'correlation' : 'detection'));
    assert(kinds.includes(example.kind), `${example.path}: a ${example.kind} finding among ${kinds}`);
  }
  // An event no mapping covers: the note, and the event passes through unchanged.
  let shown = await ocsfRenders(page);
  const lines = (await paneText(page, 'events')).split('\n').length;
  await editor(page, 'events').click();
  await page.keyboard.press('ControlOrMeta+End');
  await page.keyboard.press('Enter');
  await page.keyboard.press('Shift+Home');
  await page.keyboard.insertText(fixtures.unmappedEvent);
  await ocsfShown(page, shown);
  await page.waitForFunction((line) => document.getElementById('ocsf-event-where')?.textContent.startsWith(`line ${line}`), lines + 1, { timeout: 10000 });
  equal(await page.textContent('#ocsf-event-note'), 'no OCSF mapping for this event: it would pass through unchanged', 'the note');
  equal(await page.evaluate(() => window.sigilPlayground.ocsfEventLine()) + '\n', normalizeLine(fixtures.unmappedEvent), 'passed through as sigil normalize writes it');
  // A finding's event link selects its event again; leave that on screen for the screenshot.
  shown = await ocsfRenders(page);
  await page.locator('#ocsf .finding summary .alert-line').first().click();
  await ocsfShown(page, shown);
  await page.locator('#ocsf-class-uid').waitFor({ timeout: 10000 });
  await page.screenshot({ path: ocsfScreenshotPath });
});

if (pageErrors.length) console.log(`page errors: ${pageErrors.join(' | ')}`);

// ---- figures -------------------------------------------------------------------------------

const gz = (file) => gzipSync(readFileSync(join(dist, file))).length;
const jsFiles = ['main.js', 'worker.js', ...readdirSync(join(dist, 'chunks')).filter((f) => !f.startsWith('examples')).map((f) => `chunks/${f}`)];
const jsGz = jsFiles.reduce((sum, f) => sum + gz(f), 0);
const wasmGz = gz('sigil_playground_bg.wasm');
const examplesFile = readdirSync(join(dist, 'chunks')).find((f) => f.startsWith('examples'));
console.log(`page weight (gzipped): wasm ${wasmGz} B + JS ${jsGz} B = ${wasmGz + jsGz} B (css ${gz('styles.css')} B; examples chunk, loaded on first open, ${examplesFile ? gz(`chunks/${examplesFile}`) : 0} B)`);
console.log(`time to first evaluation: ${firstResultsMs ?? 'n/a'} ms from navigation to first results`);
await check('11. the page stays light: the engine\'s wasm is under 1.5 MB gzipped', async () => {
  assert(wasmGz < WASM_GZ_LIMIT, `the wasm is ${wasmGz} B gzipped, over ${WASM_GZ_LIMIT} B`);
});
console.log(`screenshots: ${screenshotPath}, ${ocsfScreenshotPath}`);

await browser.close();
server.close();
rmSync(temp, { recursive: true, force: true });
const passed = results.filter(Boolean).length;
const failed = results.length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
