// The playground page: wires the editors, the options, the engine worker and the result views
// together. It evaluates what is on screen as the user types (debounced), opens explanations,
// keeps the rule-test marks' pass/fail current, shows the selected event and the alerts as OCSF,
// and restores/creates share links. The engine itself lives in worker.js; this module never
// blocks on it.
import { EngineClient, EngineTimeout } from './engine-client.js';
import { ruleEditor, eventsEditor, outputEditor, setText, showDiagnostics } from './editors.js';
import { markedCases, markSelection, setCases, setCaseStatus } from './case-marks.js';
import { renderAlerts, renderHits, renderMalformed, renderTests, summaryText, huntLine, testLine } from './results-view.js';
import { renderExplanation } from './explain-view.js';
import { renderOcsf } from './ocsf-view.js';
import { testsYaml, sidecarName } from './tests-export.js';
import { encodeState, decodeState } from './share.js';
import { setupExamplesMenu } from './examples-menu.js';
import { readEventsFile } from './events-file.js';
import { sampleRule, sampleEvents, sampleCases } from './sample.js';
import { el, fill } from './dom.js';

const DEBOUNCE_MS = 250;
// The OCSF view writes the findings of at most this many alerts (the page stays responsive).
const MAX_FINDINGS = 200;
const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
// Test hook: a short limit makes the runaway path testable without a slow rule.
const timeoutMs = Number(params.get('worker_timeout_ms')) > 0 ? Number(params.get('worker_timeout_ms')) : 5000;

const page = {
  eventsFile: 'events.jsonl',
  last: null, // {snapshot, compiled, evaluated, evalMs}
  statuses: new Map(),
  details: new Map(),
  evaluations: 0,
  downloadUrl: null,
  // The event the OCSF view shows: {line, record}, from the events cursor or a clicked alert.
  selected: null,
  ocsf: { findingsFor: null, findings: null, normalized: null, wanted: 0, token: 0, renders: 0 },
};

const rule = ruleEditor($('rule-editor'), '', schedule);
const events = eventsEditor($('events-editor'), '', schedule, followCursor);
const output = outputEditor($('output-editor'));

const engine = new EngineClient(new URL('./worker.js', import.meta.url), timeoutMs, (version) => {
  $('version').textContent = version;
  document.body.dataset.workerGeneration = String(engine.generation);
});

// ---- options -------------------------------------------------------------------------------

function options() {
  const routing = document.querySelector('input[name=routing]:checked')?.value || 'auto';
  const pipelines = [...document.querySelectorAll('input[name=pipeline]:checked')].map((i) => i.value);
  return { routing, pipelines, file: ruleFile() };
}

function ruleFile() {
  const name = $('rule-file').value.trim();
  return name || 'rule.yml';
}

function setOptions({ routing = 'auto', pipelines = [] } = {}) {
  for (const input of document.querySelectorAll('input[name=routing]')) input.checked = input.value === routing;
  for (const input of document.querySelectorAll('input[name=pipeline]')) input.checked = pipelines.includes(input.value);
}

for (const input of document.querySelectorAll('input[name=routing], input[name=pipeline]')) input.addEventListener('change', schedule);
$('rule-file').addEventListener('input', schedule);

// ---- evaluation ----------------------------------------------------------------------------

let debounce = null;
let inFlight = false;
let again = false;

function schedule() {
  clearTimeout(debounce);
  document.body.dataset.pending = 'true';
  debounce = setTimeout(() => {
    debounce = null;
    evaluateNow();
  }, DEBOUNCE_MS);
  updateCommandLines();
}

function lineText(doc, n) {
  return n >= 1 && n <= doc.lines ? doc.line(n).text : '';
}

function snapshot() {
  const doc = events.state.doc;
  const cases = markedCases(events.state);
  return {
    rule: rule.state.doc.toString(),
    events: doc.toString(),
    options: options(),
    cases,
    caseEvents: cases.map((c) => c.lines.map((n) => lineText(doc, n)).join('\n') + '\n'),
  };
}

function setStatus(state, text) {
  const status = $('status');
  status.dataset.state = state;
  status.textContent = text;
}

async function evaluateNow() {
  if (inFlight) {
    again = true;
    return;
  }
  inFlight = true;
  again = false;
  const shot = snapshot();
  const slow = setTimeout(() => setStatus('running', 'Evaluating…'), 150);
  try {
    const result = await engine.request('run', { rule: shot.rule, events: shot.events, options: shot.options, cases: shot.caseEvents });
    clearTimeout(slow);
    show({ snapshot: shot, ...result });
  } catch (e) {
    clearTimeout(slow);
    if (e instanceof EngineTimeout) {
      setStatus('timeout', `${e.message}: the engine was restarted. Shorten the events or simplify the rule, then edit to run again.`);
      document.body.dataset.workerGeneration = String(engine.generation);
    } else {
      setStatus('error', String(e.message || e));
    }
  } finally {
    inFlight = false;
    if (again) evaluateNow();
    // Tells the end-to-end test (and anyone watching) that what is shown matches what is typed.
    else if (debounce === null) document.body.dataset.pending = 'false';
  }
}

function show(result) {
  const { snapshot: shot, compiled, evaluated, evalMs, caseResults } = result;
  page.last = result;
  page.evaluations += 1;
  const diagnostics = [...(compiled.diagnostics || [])];
  showDiagnostics(rule, diagnostics);
  const errors = diagnostics.filter((d) => d.severity !== 'warning');
  if (!compiled.ok || errors.length) {
    const first = errors[0] || diagnostics[0];
    setStatus('error', first ? `${shot.options.file}:${first.line}:${first.column}: ${first.message}` : 'the rule does not compile');
  } else {
    setStatus('ok', summaryText(compiled, evaluated, evalMs));
  }
  $('rule-summary').textContent = compiled.rules?.length ? `${compiled.rules.length} rule${compiled.rules.length === 1 ? '' : 's'}` : '';
  renderAlerts($('alerts'), evaluated, openExplanation);
  renderHits($('hits'), compiled, evaluated);
  renderMalformed($('malformed'), evaluated, jumpToEvent);
  $('alert-count').textContent = String((evaluated.alerts || []).length);
  setText(output, evaluated.alerts_jsonl || '');
  if (ocsfVisible()) scheduleOcsf();

  page.statuses = new Map();
  page.details = new Map();
  shot.cases.forEach((c, i) => {
    const r = caseResults[i];
    let status = 'error';
    let detail = '';
    if (!r || !r.ok || r.errors.length) {
      detail = r?.errors?.[0] ? `line ${c.lines[0] + r.errors[0].line - 1}: ${r.errors[0].message}` : 'the rule does not compile';
    } else if ((r.alerts > 0) === (c.expect === 'match')) {
      status = 'pass';
      detail = r.alerts ? `raised ${r.titles.join(', ')}` : 'no alert';
    } else {
      status = 'fail';
      detail = r.alerts ? `raised ${r.titles.join(', ')}` : 'no alert';
    }
    page.statuses.set(c.id, status);
    page.details.set(c.id, detail);
  });
  events.dispatch({ effects: setCaseStatus.of(page.statuses) });
  renderTestsTab();

  document.body.dataset.evaluations = String(page.evaluations);
  if (!document.body.dataset.firstResultsMs) document.body.dataset.firstResultsMs = String(Math.round(performance.now()));
}

function jumpToEvent(line) {
  const doc = events.state.doc;
  if (line < 1 || line > doc.lines) return;
  const at = doc.line(line).from;
  events.dispatch({ selection: { anchor: at }, scrollIntoView: true });
  events.focus();
}

// ---- explain -------------------------------------------------------------------------------

async function openExplanation(index) {
  const last = page.last;
  const alert = last?.evaluated.alerts?.[index];
  if (!alert) return;
  for (const row of document.querySelectorAll('.alert-row')) row.classList.toggle('selected', row.dataset.index === String(index));
  const eventText = last.snapshot.events.split(/\r?\n/)[alert.line - 1] ?? '';
  page.selected = { line: alert.line, record: alert.record ?? 1 };
  selectTab('explain');
  fill($('explain'), el('p', { class: 'muted' }, 'Explaining…'));
  try {
    const explanation = await engine.request('explain', { rule: last.snapshot.rule, event: eventText, ruleId: alert.rule_id, options: last.snapshot.options });
    fill($('explain'), renderExplanation(explanation, eventText, alert.line));
  } catch (e) {
    fill($('explain'), el('div', { class: 'notice notice-error' }, String(e.message || e)));
  }
}

// ---- OCSF ----------------------------------------------------------------------------------

/** The events cursor picks the event the OCSF view shows (a click on an alert does too). */
function followCursor(state) {
  const line = state.doc.lineAt(state.selection.main.head).number;
  if (page.selected?.line !== line) page.selected = { line, record: 1 };
  // The same line may have new text: map it again.
  if (ocsfVisible()) scheduleOcsf();
}

/** Shows event `line` (record `record` of a Records line) in the OCSF view, with the cursor on it. */
function selectEvent(line, record = 1) {
  const doc = events.state.doc;
  if (line >= 1 && line <= doc.lines) events.dispatch({ selection: { anchor: doc.line(line).from }, scrollIntoView: true });
  page.selected = { line, record };
  scheduleOcsf();
}

function ocsfVisible() {
  return !document.querySelector('.tab-panel[data-panel=ocsf]').hidden;
}

let ocsfTimer = null;
function scheduleOcsf() {
  clearTimeout(ocsfTimer);
  page.ocsf.wanted += 1;
  // Tells the end-to-end test when the view shows what is selected (as `pending` does for results).
  document.body.dataset.ocsfPending = 'true';
  ocsfTimer = setTimeout(refreshOcsf, 60);
}

/** The first `n` lines of `text`, each with its line end. */
function firstLines(text, n) {
  let at = -1;
  for (let i = 0; i < n; i++) {
    at = text.indexOf('\n', at + 1);
    if (at < 0) return text;
  }
  return text.slice(0, at + 1);
}

async function refreshOcsf() {
  const state = page.ocsf;
  const wanted = state.wanted;
  const token = ++state.token;
  const last = page.last;
  const selection = page.selected;
  // Findings change only with an evaluation: they are written once per result.
  const alertsJsonl = last && state.findingsFor !== last ? firstLines(last.evaluated.alerts_jsonl || '', MAX_FINDINGS) : null;
  const event = selection ? lineText(events.state.doc, selection.line) : null;
  let answer;
  try {
    answer = await engine.request('ocsf', { event, record: selection?.record ?? 1, alertsJsonl });
  } catch (e) {
    if (token === state.token) {
      fill($('ocsf'), el('div', { class: 'notice notice-error' }, String(e.message || e)));
      if (state.wanted === wanted) document.body.dataset.ocsfPending = 'false';
    }
    return;
  }
  if (answer.findings && page.last === last) {
    state.findingsFor = last;
    state.findings = answer.findings;
  }
  if (token !== state.token) return;
  state.normalized = answer.normalized;
  const current = page.last;
  const { routing, pipelines } = options();
  fill(
    $('ocsf'),
    renderOcsf({
      selection,
      normalized: answer.normalized,
      alerts: current?.evaluated.alerts || [],
      findings: state.findingsFor === current ? state.findings : null,
      limit: MAX_FINDINGS,
      onSelectEvent: selectEvent,
      onCopyEvent: () => copy(state.normalized?.line ?? '', 'ocsf-event-copy'),
      onCopyFindings: () => copy(state.findings?.findings_jsonl ?? '', 'ocsf-findings-copy'),
    }),
    el('p', { class: 'hint ocsf-cli' }, 'The same from the CLI: ', el('code', { class: 'cli-inline' }, huntLine({ ruleFile: ruleFile(), eventsFile: 'events.jsonl', routing, pipelines, format: 'ocsf' }))),
  );
  state.renders += 1;
  document.body.dataset.ocsfRenders = String(state.renders);
  if (state.wanted === wanted) document.body.dataset.ocsfPending = 'false';
}

// ---- rule tests ----------------------------------------------------------------------------

function renderTestsTab() {
  const cases = markedCases(events.state);
  const doc = events.state.doc;
  const file = ruleFile();
  const exported = testsYaml(file, cases, (n) => lineText(doc, n));
  if (page.downloadUrl) URL.revokeObjectURL(page.downloadUrl);
  page.downloadUrl = URL.createObjectURL(new Blob([exported.yaml], { type: 'application/yaml' }));
  $('tests-count').textContent = String(cases.length);
  renderTests($('tests'), {
    cases,
    statuses: page.statuses,
    details: page.details,
    exported,
    testLine: testLine({ ruleFile: file, pipelines: options().pipelines }),
    actions: {
      markSelection: (expect) => {
        markSelection(events, expect);
        schedule();
      },
      download: { href: page.downloadUrl, name: sidecarName(file) },
      onCopy: () => copy(exported.yaml, 'tests-copy'),
    },
  });
}

// ---- tabs, command lines, copying -----------------------------------------------------------

function selectTab(name) {
  for (const tab of document.querySelectorAll('.tab')) tab.setAttribute('aria-selected', String(tab.dataset.tab === name));
  for (const panel of document.querySelectorAll('.tab-panel')) panel.hidden = panel.dataset.panel !== name;
  if (name === 'ocsf') scheduleOcsf();
}
for (const tab of document.querySelectorAll('.tab')) tab.addEventListener('click', () => selectTab(tab.dataset.tab));

function updateCommandLines() {
  const { routing, pipelines } = options();
  // The engine names the events `events.jsonl` in alerts (source.file), so the equivalent
  // command reads a file of that name, whatever the opened file was called.
  $('cli-line').textContent = huntLine({ ruleFile: ruleFile(), eventsFile: 'events.jsonl', routing, pipelines });
}

async function copy(text, buttonId) {
  const button = $(buttonId);
  try {
    await navigator.clipboard.writeText(text);
    flash(button, 'Copied');
  } catch {
    flash(button, 'Copy blocked: select and copy by hand');
  }
}

function flash(button, text) {
  if (!button) return;
  const before = button.textContent;
  button.textContent = text;
  setTimeout(() => (button.textContent = before), 1500);
}

$('cli-copy').addEventListener('click', () => copy($('cli-line').textContent, 'cli-copy'));

// ---- loading content: examples, files, share links ------------------------------------------

function load({ ruleText, eventsText, ruleFileName, eventsFileName, routing, pipelines, cases }) {
  $('rule-file').value = ruleFileName || 'rule.yml';
  page.eventsFile = eventsFileName || 'events.jsonl';
  $('events-file-name').textContent = page.eventsFile;
  setOptions({ routing, pipelines });
  setText(rule, ruleText);
  setText(events, eventsText);
  events.dispatch({ effects: setCases.of(cases || []) });
  schedule();
}

setupExamplesMenu({
  button: $('examples-button'),
  menu: $('examples-menu'),
  filter: $('examples-filter'),
  list: $('examples-list'),
  onPick: (x) =>
    load({
      ruleText: x.rule,
      eventsText: x.events,
      ruleFileName: x.file,
      eventsFileName: 'events.jsonl',
      routing: 'auto',
      pipelines: [],
      cases: x.cases.map((c) => ({ expect: c.expect ? 'match' : 'no_match', lines: Array.from({ length: c.count }, (_, i) => c.start + i + 1) })),
    }),
});

$('events-file').addEventListener('change', async (e) => {
  const file = e.target.files?.[0];
  if (!file) return;
  try {
    const text = await readEventsFile(file);
    page.eventsFile = file.name.replace(/\.gz$/i, '');
    $('events-file-name').textContent = file.name;
    setText(events, text);
    events.dispatch({ effects: setCases.of([]) });
  } catch (err) {
    setStatus('error', `${file.name}: ${err.message}`);
  }
  e.target.value = '';
});

function currentState() {
  const { routing, pipelines } = options();
  return {
    rule: rule.state.doc.toString(),
    events: events.state.doc.toString(),
    ruleFile: ruleFile(),
    eventsFile: page.eventsFile,
    routing,
    pipelines,
    cases: markedCases(events.state).map(({ expect, lines }) => ({ expect, lines })),
  };
}

$('share-button').addEventListener('click', async () => {
  const hash = await encodeState(currentState());
  history.replaceState(null, '', hash);
  const link = $('share-link');
  link.value = location.href;
  $('share-panel').hidden = false;
  link.select();
  let note = `link ready (${location.href.length} characters; nothing was uploaded)`;
  try {
    await navigator.clipboard.writeText(location.href);
    note = `link copied (${location.href.length} characters; nothing was uploaded)`;
  } catch {
    // Clipboard access needs a user gesture and permission; the link stays selectable.
  }
  // Chromium refuses URLs over 2 MB; other apps cut links much sooner.
  if (location.href.length > 2_000_000) note = `this link is ${location.href.length} characters, more than browsers open: trim the events`;
  $('share-note').textContent = note;
});

async function restore() {
  let state = null;
  try {
    state = await decodeState(location.hash);
  } catch (e) {
    setStatus('error', e.message);
  }
  if (state) {
    load({
      ruleText: state.rule ?? '',
      eventsText: state.events ?? '',
      ruleFileName: state.ruleFile,
      eventsFileName: state.eventsFile,
      routing: state.routing,
      pipelines: state.pipelines,
      cases: state.cases,
    });
  } else {
    load({ ruleText: sampleRule, eventsText: sampleEvents, cases: sampleCases });
  }
}

window.addEventListener('hashchange', restore);
document.addEventListener('mousedown', (e) => {
  if (!$('share-panel').contains(e.target) && e.target !== $('share-button')) $('share-panel').hidden = true;
});

/** Read-only hooks for the end-to-end test and for debugging in the console. */
window.sigilPlayground = {
  outputText: () => output.state.doc.toString(),
  /** The OCSF view's findings as JSON Lines (`sigil hunt --format ocsf`), and its event's line (`sigil normalize --to ocsf`). */
  ocsfFindingsText: () => page.ocsf.findings?.findings_jsonl ?? null,
  ocsfEventLine: () => page.ocsf.normalized?.line ?? null,
  lastResult: () => page.last && { compiled: page.last.compiled, evaluated: page.last.evaluated, evalMs: page.last.evalMs },
  state: currentState,
};

restore();
