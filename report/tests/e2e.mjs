// End-to-end test of `sigil report` in Debian's headless Chromium, driven by npm's playwright-core
// (the playground's copy, in web-playground/www/node_modules): it runs a real hunt (SigmaHQ's
// Windows rules over the OTRF sample in ../shared), writes the report, opens the file and checks
// that no request leaves it, that the timeline draws (screenshot: target/report-timeline.png),
// that clicking a rule filters the alerts to that rule's count, that clicking an alert shows its
// event, that zooming narrows the list, and that a report of at least 10,000 alerts loads and
// filters within a generous bound. It prints the load times and file sizes, ends with one line
// `N passed, N failed` (scripts/test.sh counts it) and exits non-zero on any failure; without
// ../shared it prints SKIPPED and passes.
//
// Usage: node report/tests/e2e.mjs   (after scripts/playground.sh's npm ci; SIGIL_BIN = the CLI)
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..', '..');
const shared = resolve(repo, '..', 'shared');
const sigil = resolve(repo, process.env.SIGIL_BIN || 'target/debug/sigil');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const out = join(repo, 'target');
const screenshotPath = join(out, 'report-timeline.png');
/** A page that takes longer than this to load or to filter is not responsive. */
const RESPONSIVE_MS = 3000;
const MANY = 10000;

const rules = join(shared, 'sigma', 'rules', 'windows');
const events = join(shared, 'datasets', 'windows', 'otrf-windows-sample.jsonl.gz');
if (!existsSync(rules) || !existsSync(events)) {
  console.log(`SKIPPED report e2e: ../shared is absent (${rules}, ${events})`);
  console.log('0 passed, 0 failed');
  process.exit(0);
}
const playground = join(repo, 'web-playground', 'www', 'package.json');
for (const [what, path, fix] of [
  ['the sigil CLI', sigil, 'run cargo build -p sigil-cli, or set SIGIL_BIN'],
  ['Chromium', CHROMIUM, 'run scripts/setup-chromium.sh'],
  ['playwright-core', join(repo, 'web-playground', 'www', 'node_modules', 'playwright-core'), 'run scripts/playground.sh (its npm ci installs it)'],
]) {
  if (!existsSync(path)) {
    console.error(`report e2e: ${what} is missing at ${path}: ${fix}`);
    console.log('0 passed, 1 failed');
    process.exit(1);
  }
}
const { chromium } = createRequire(playground)('playwright-core');

// ---- a real hunt, and its reports -----------------------------------------------------------

mkdirSync(out, { recursive: true });
const started = Date.now();
const alertsText = execFileSync(sigil, ['hunt', '--rules', rules, events, '--format', 'jsonl'], {
  maxBuffer: 1 << 30,
  stdio: ['ignore', 'pipe', 'inherit'],
}).toString();
const alertLines = alertsText.split('\n').filter((l) => l.trim() !== '');
const alerts = alertLines.map((l) => JSON.parse(l));
console.log(`hunt: ${alerts.length} alerts from the OTRF sample with SigmaHQ's Windows rules (${Date.now() - started} ms)`);

/** Writes `lines` as JSON Lines and runs `sigil report` on them; returns the report's path. */
function report(name, lines, flags = []) {
  const input = join(out, `${name}.jsonl`);
  const html = join(out, `${name}.html`);
  writeFileSync(input, lines.join('\n') + '\n');
  execFileSync(sigil, ['report', input, '-o', html, ...flags], { stdio: ['ignore', 'inherit', 'inherit'] });
  console.log(`report: ${html}: from ${lines.length} lines, ${statSync(html).size.toLocaleString('en')} bytes`);
  return html;
}
const realReport = report('report-e2e', alertLines);
// The real alerts repeated until there are enough to load the page as a large hunt would.
// One line that is not an alert, and a bound that leaves the last copies' surplus out, so the
// page's notices are checked too.
const copies = Math.max(1, Math.ceil((MANY + 1) / Math.max(1, alertLines.length)));
const manyLines = ['this line is not an alert'];
for (let c = 0; c < copies; c++) manyLines.push(...alertLines);
const embedded = MANY;
const leftOut = manyLines.length - 1 - embedded;
const manyReport = report('report-e2e-many', manyLines, ['--max-alerts', String(embedded)]);

// ---- the browser ------------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } });
const offsite = [];
const local = (url) => url.startsWith('file:') || url.startsWith('data:') || url.startsWith('about:');
// The report is one file: anything else it asks for is recorded and fails the first check.
await context.route('**/*', (route) => {
  const url = route.request().url();
  if (local(url)) return route.continue();
  offsite.push(url);
  return route.abort();
});
context.on('request', (request) => {
  if (!local(request.url())) offsite.push(request.url());
});
const page = await context.newPage();
const pageErrors = [];
page.on('pageerror', (e) => pageErrors.push(String(e)));

const results = [];
async function check(name, body) {
  const t0 = Date.now();
  try {
    await body();
    results.push(true);
    console.log(`ok   ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push(false);
    console.log(`FAIL ${name}: ${e?.stack || e}`);
    const shot = join(out, `report-e2e-failed-${results.length}.png`);
    await page.screenshot({ path: shot, fullPage: true }).then(() => console.log(`     screenshot of the failure: ${shot}`), () => {});
  }
}
function assert(condition, message) {
  if (!condition) throw new Error(message);
}
function equal(actual, expected, what) {
  if (actual !== expected) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

/** Opens a report and waits until the page says it is drawn; returns the time that took. */
async function open(path) {
  const t0 = Date.now();
  await page.goto(pathToFileURL(path).href);
  await page.waitForFunction(() => document.body.dataset.ready === 'true', null, { timeout: 60000 });
  return Date.now() - t0;
}
const visible = () => page.evaluate(() => Number(document.body.dataset.visible));

/** Clicks the rule table's row `index` and waits for the list to show that rule's count; returns the time. */
async function filterByRule(index) {
  const row = page.locator(`#rules tbody tr[data-rule="${index}"]`);
  const count = Number(await row.locator('td').nth(2).textContent());
  const t0 = Date.now();
  await row.click();
  await page.waitForFunction((n) => Number(document.body.dataset.visible) === n, count, { timeout: 10000 });
  return { count, ms: Date.now() - t0, title: await row.locator('td').first().textContent() };
}

await check('the report of a real hunt loads as one file, with no request leaving it', async () => {
  const ms = await open(realReport);
  console.log(`     load: ${ms} ms for ${alerts.length} alerts (${statSync(realReport).size.toLocaleString('en')} bytes)`);
  equal(await visible(), alerts.length, 'alerts shown before any filter');
  equal(offsite.length, 0, `requests that left the file (${offsite.join(', ')})`);
  equal(pageErrors.length, 0, `page errors (${pageErrors.join('; ')})`);
});

await check('the timeline draws (non-blank canvas pixels)', async () => {
  const painted = await page.evaluate(() => {
    const canvas = document.getElementById('timeline');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let coloured = 0;
    for (let i = 0; i < pixels.length; i += 4) {
      // Bars are coloured; the background is white and the axis text grey.
      const [r, g, b] = [pixels[i], pixels[i + 1], pixels[i + 2]];
      if (Math.max(r, g, b) - Math.min(r, g, b) > 40) coloured++;
    }
    return coloured;
  });
  console.log(`     ${painted} coloured pixels in the timeline`);
  assert(painted > 50, `the timeline has ${painted} coloured pixels`);
  await page.locator('#timeline-panel').screenshot({ path: screenshotPath });
  console.log(`     screenshot: ${screenshotPath}`);
});

await check('clicking a rule shows only its alerts, and clicking it again shows all', async () => {
  const rows = await page.locator('#rules tbody tr').count();
  assert(rows >= 2, `only ${rows} rules fired`);
  // The second rule: a count that is neither all the alerts nor the first row's.
  const { count, title } = await filterByRule(1);
  const expected = alerts.filter((a) => a.rule.title === title).length;
  equal(count, expected, `the table's count for "${title}"`);
  const titles = await page.locator('#alerts tbody tr td:nth-child(3)').allTextContents();
  assert(titles.length > 0 && titles.every((t) => t === title), `rows of other rules: ${[...new Set(titles)].join(', ')}`);
  await page.locator('#rules tbody tr[data-rule="1"]').click();
  await page.waitForFunction((n) => Number(document.body.dataset.visible) === n, alerts.length);
});

await check('clicking an alert shows its matched fields and its event', async () => {
  await filterByRule(0);
  const row = page.locator('#alerts tbody tr').first();
  const [title, source] = [await row.locator('td').nth(2).textContent(), await row.locator('td').nth(3).textContent()];
  await row.click();
  const line = Number(source.split(':').pop());
  const alert = alerts.find((a) => a.rule.title === title && a.source.line === line);
  assert(alert, `no alert of "${title}" at line ${line} in the hunt's output`);
  await page.waitForSelector('#event');
  equal(await page.locator('#event').textContent(), JSON.stringify(alert.event, null, 2), 'the event shown');
  const matched = await page.locator('#matched dt').allTextContents();
  equal(matched.join(','), Object.keys(alert.matched).join(','), 'the matched fields shown');
  await page.locator('#clear-filter').click();
  await page.waitForFunction((n) => Number(document.body.dataset.visible) === n, alerts.length);
});

await check('clicking a top entity shows only the alerts about it', async () => {
  const row = page.locator('#entities tbody tr').first();
  assert((await row.count()) === 1, 'no entity listed');
  const [kind, value, count] = await row.locator('td').allTextContents();
  await row.click();
  await page.waitForFunction((n) => Number(document.body.dataset.visible) === n, Number(count));
  console.log(`     ${kind} ${value}: ${count} alerts`);
  await page.locator('#clear-filter').click();
  await page.waitForFunction((n) => Number(document.body.dataset.visible) === n, alerts.length);
});

await check('zooming the timeline narrows the alerts, and reset shows them all', async () => {
  const box = await page.locator('#timeline').boundingBox();
  // Drag across the middle tenth: a brush zooms into it.
  await page.mouse.move(box.x + box.width * 0.45, box.y + 40);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.55, box.y + 40, { steps: 5 });
  await page.mouse.up();
  await page.waitForFunction(() => document.getElementById('range').textContent.includes('zoomed'));
  const zoomed = await visible();
  assert(zoomed < alerts.length, `zoomed into a tenth, ${zoomed} of ${alerts.length} alerts still shown`);
  await page.mouse.move(box.x + box.width / 2, box.y + 40);
  await page.mouse.wheel(0, 400);
  await page.locator('#reset-zoom').click();
  await page.waitForFunction((n) => Number(document.body.dataset.visible) === n, alerts.length);
  console.log(`     ${zoomed} alerts in the brushed tenth of the timeline`);
});

await check(`a report of ${embedded} alerts stays responsive (load and filter under ${RESPONSIVE_MS} ms) and says what it left out`, async () => {
  const size = statSync(manyReport).size;
  const load = await open(manyReport);
  equal(await visible(), embedded, 'alerts shown');
  const notices = [await page.locator('#left-out').textContent(), await page.locator('#malformed').textContent()];
  assert(notices[0].includes(`Alerts left out: ${leftOut.toLocaleString('en')}.`), `the left-out notice: ${notices[0]}`);
  assert(notices[1].includes('Input lines that were not alerts, skipped: 1.') && notices[1].includes('line 1: not an alert'), `the malformed notice: ${notices[1]}`);
  const { count, ms } = await filterByRule(0);
  const rowMs = await page.evaluate(() => {
    const t0 = performance.now();
    document.querySelector('#alerts tbody tr').click();
    return performance.now() - t0;
  });
  console.log(`     ${embedded} alerts (${leftOut} left out), ${size.toLocaleString('en')} bytes: load ${load} ms, click-to-filter ${ms} ms (${count} alerts), click-to-event ${rowMs.toFixed(1)} ms`);
  assert(load < RESPONSIVE_MS, `load took ${load} ms`);
  assert(ms < RESPONSIVE_MS, `filtering took ${ms} ms`);
  assert(rowMs < RESPONSIVE_MS, `showing an alert took ${rowMs} ms`);
  equal(offsite.length, 0, `requests that left the file (${offsite.join(', ')})`);
  equal(pageErrors.length, 0, `page errors (${pageErrors.join('; ')})`);
});

await browser.close();
const passed = results.filter(Boolean).length;
console.log(`${passed} passed, ${results.length - passed} failed`);
process.exit(passed === results.length ? 0 : 1);
