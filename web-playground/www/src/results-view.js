// Renders an evaluation's results: the alert list (each row opens its explanation), per-rule hit
// counts, the malformed event lines (line and column: nothing is dropped silently), the rule
// test cases with pass/fail and their export, and the equivalent command lines. It only builds
// DOM from the engine's answers; it never calls the engine.
import { el, fill } from './dom.js';

function levelBadge(level) {
  const known = ['informational', 'low', 'medium', 'high', 'critical'];
  const name = known.includes(level) ? level : 'unknown';
  return el('span', { class: `level level-${name}` }, level || '—');
}

/** The alert rows; `onOpen(index)` opens alert `index`'s explanation. */
export function renderAlerts(container, evaluated, onOpen) {
  const alerts = evaluated.alerts || [];
  if (alerts.length === 0) {
    fill(container, el('p', { class: 'empty' }, 'No alerts: no rule matched these events.'));
    return;
  }
  const rows = alerts.map((alert, index) =>
    el(
      'button',
      { class: 'alert-row', 'data-index': index, 'data-rule': alert.rule_id, onclick: () => onOpen(index), title: 'Explain this alert' },
      levelBadge(alert.level),
      el('span', { class: 'alert-title' }, alert.title),
      alert.correlation ? el('span', { class: 'tag' }, 'correlation') : null,
      el('span', { class: 'alert-line' }, `event line ${alert.line}`),
    ),
  );
  fill(container, el('div', { class: 'alert-list' }, rows));
}

/** Every compiled rule with its hit count (rules that never fired included, so a typo shows). */
export function renderHits(container, compiled, evaluated) {
  const counts = new Map((evaluated.hits || []).map((h) => [h.rule_id, h.count]));
  const rules = compiled.rules || [];
  if (rules.length === 0) {
    fill(container, el('p', { class: 'empty' }, 'No rule compiled.'));
    return;
  }
  const rows = rules.map((rule) =>
    el(
      'tr',
      { class: counts.get(rule.id) ? 'hit' : 'miss' },
      el('td', { class: 'num' }, String(counts.get(rule.id) ?? 0)),
      el('td', {}, rule.title, rule.kind === 'correlation' ? el('span', { class: 'tag' }, 'correlation') : null),
      el('td', { class: 'muted mono' }, rule.id),
      el('td', {}, levelBadge(rule.level)),
    ),
  );
  fill(container, el('table', { class: 'hits' }, el('tbody', {}, rows)));
}

/** Event lines the engine could not read, each with line and column; `onJump(line)` shows it. */
export function renderMalformed(container, evaluated, onJump) {
  const errors = evaluated.events?.errors || [];
  if (errors.length === 0) {
    fill(container);
    return;
  }
  fill(
    container,
    el('h3', { class: 'error-head' }, `Malformed event lines (${errors.length})`),
    el(
      'ul',
      { class: 'malformed' },
      errors.map((e) =>
        el('li', {}, el('button', { class: 'link', onclick: () => onJump(e.line) }, `line ${e.line}, column ${e.column}`), `: ${e.message}`),
      ),
    ),
  );
}

/** The one-line summary above the results. */
export function summaryText(compiled, evaluated, evalMs) {
  const read = evaluated.events?.read ?? 0;
  const rejected = evaluated.events?.rejected ?? 0;
  const alerts = (evaluated.alerts || []).length;
  const perEvent = read ? `${(evalMs / read).toFixed(3)} ms/event` : '—';
  const errors = (compiled.diagnostics || []).filter((d) => d.severity !== 'warning').length;
  const parts = [
    `${alerts} alert${alerts === 1 ? '' : 's'}`,
    `${read} event${read === 1 ? '' : 's'} read`,
    rejected ? `${rejected} rejected` : null,
    `${evalMs.toFixed(1)} ms (${perEvent})`,
    errors ? `${errors} rule error${errors === 1 ? '' : 's'}` : null,
  ];
  return parts.filter(Boolean).join(' · ');
}

const STATUS_TEXT = { pass: 'passes', fail: 'fails', error: 'cannot run' };

/**
 * The rule-tests tab: the marked cases with pass/fail, the export (download link + copy) and the
 * `sigil test` line. `actions` = {markSelection(expect), download: {href, name}, onCopy}.
 */
export function renderTests(container, { cases, statuses, details, exported, testLine, actions }) {
  const caseRows = cases.map((c, i) => {
    const status = statuses.get(c.id);
    const detail = details.get(c.id);
    return el(
      'tr',
      { class: `case-row case-${status || 'pending'}`, 'data-case': c.id },
      el('td', {}, String(i + 1)),
      el('td', {}, c.lines.length === 1 ? `line ${c.lines[0]}` : `lines ${c.lines[0]}–${c.lines[c.lines.length - 1]} (${c.lines.length} events, in order)`),
      el('td', {}, c.expect === 'match' ? 'should match' : 'should not match'),
      el('td', { class: 'case-status' }, status ? STATUS_TEXT[status] : '…'),
      el('td', { class: 'muted' }, detail || ''),
    );
  });
  const passed = cases.filter((c) => statuses.get(c.id) === 'pass').length;
  fill(
    container,
    el(
      'div',
      { class: 'tests-actions' },
      el('span', {}, 'Mark the selected event lines as one case:'),
      el('button', { class: 'button button-small', id: 'mark-match', onclick: () => actions.markSelection('match') }, '✓ should match'),
      el('button', { class: 'button button-small', id: 'mark-no-match', onclick: () => actions.markSelection('no_match') }, '✗ should not match'),
      el('button', { class: 'button button-small', id: 'mark-clear', onclick: () => actions.markSelection(null) }, 'unmark'),
    ),
    el('p', { class: 'hint' }, 'Each case runs alone in a fresh session, routed automatically, as sigil test runs it.'),
    cases.length === 0
      ? el('p', { class: 'empty' }, 'No test cases yet. Click the gutter left of an event (✓ → ✗ → none), or select lines and use the buttons above.')
      : [
          el('p', { id: 'tests-summary', class: passed === cases.length ? 'tests-ok' : 'tests-bad' }, `${passed} of ${cases.length} cases pass`),
          el(
            'table',
            { class: 'cases' },
            el('thead', {}, el('tr', {}, el('th', {}, '#'), el('th', {}, 'events'), el('th', {}, 'expected'), el('th', {}, 'result'), el('th', {}, ''))),
            el('tbody', {}, caseRows),
          ),
        ],
    el('h3', {}, 'Export'),
    exported.problems.map((p) => el('p', { class: 'notice notice-warn' }, p)),
    exported.skipped.map((p) => el('p', { class: 'notice notice-warn' }, `not exported: ${p}`)),
    el(
      'div',
      { class: 'tests-actions' },
      el('a', { class: 'button button-small button-primary', id: 'tests-download', href: actions.download.href, download: actions.download.name }, `Download ${actions.download.name}`),
      el('button', { class: 'button button-small', id: 'tests-copy', onclick: actions.onCopy }, 'Copy'),
      el('code', { class: 'cli-inline' }, testLine),
    ),
    el('pre', { class: 'yaml-preview', id: 'tests-yaml' }, exported.yaml),
  );
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellWord(word) {
  return /^[A-Za-z0-9_./=:,@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** `sigil hunt ...` for what is on screen. */
export function huntLine({ ruleFile, eventsFile, routing, pipelines, format = 'jsonl' }) {
  const words = ['sigil', 'hunt', '--rules', ruleFile, '--logsource', routing];
  for (const p of pipelines) words.push('--pipeline', p);
  words.push('--format', format, eventsFile);
  return words.map(shellWord).join(' ');
}

/** `sigil test ...` for the exported sidecar beside the rule. */
export function testLine({ ruleFile, pipelines }) {
  const words = ['sigil', 'test'];
  for (const p of pipelines) words.push('--pipeline', p);
  words.push(ruleFile);
  return words.map(shellWord).join(' ');
}
