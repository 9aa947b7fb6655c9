// The OCSF view: the selected event as its OCSF 1.8.0 object (what `sigil normalize --to ocsf`
// writes), or a note that no mapping applies, and each alert as its Detection Finding (what
// `sigil hunt --format ocsf` prints). The engine (sigil-ocsf, in the worker) makes both, already
// pretty-printed; this module only colours that text and builds the DOM. It never calls the engine.
import { el } from './dom.js';

/** What Sigil maps, for the note on an event it does not. */
const MAPPED_SOURCES =
  'Sigil maps CloudTrail (Authentication 3002, Account Change 3001, API Activity 6003), the Okta System Log (3002, 3001), ' +
  'Windows Security 4624/4625 (3002), and Security 4688 and Sysmon 1 (Process Activity 1007). ' +
  'An event of these sources that lacks what its class requires (a readable time, a user…) passes through too.';

const TOKEN = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/g;

/** Pretty-printed JSON text, as written, with its keys, strings and scalars in spans. */
export function jsonBlock(text, attributes = {}) {
  const pre = el('pre', { class: 'event-json ocsf-json', ...attributes });
  let at = 0;
  for (const m of text.matchAll(TOKEN)) {
    if (m.index > at) pre.append(text.slice(at, m.index));
    if (m[1] !== undefined && m[2] !== undefined) pre.append(el('span', { class: 'json-key' }, m[1]), m[2]);
    else if (m[1] !== undefined) pre.append(el('span', { class: 'json-string' }, m[1]));
    else pre.append(el('span', { class: 'json-scalar' }, m[3]));
    at = m.index + m[0].length;
  }
  if (at < text.length) pre.append(text.slice(at));
  return pre;
}

function levelBadge(level) {
  const known = ['informational', 'low', 'medium', 'high', 'critical'];
  return el('span', { class: `level level-${known.includes(level) ? level : 'unknown'}` }, level || '—');
}

/** The event part: `selection` = {line, record}, `normalized` = the engine's normalize answer (or null: none yet). */
function eventSection({ selection, normalized, onSelectEvent, onCopyEvent }) {
  const where = selection ? `line ${selection.line}` : 'no event selected';
  const records = normalized?.records > 1 ? `, record ${normalized.record} of ${normalized.records}` : '';
  const step = (delta, label) =>
    el('button', { class: 'button button-small', disabled: !normalized || normalized.record + delta < 1 || normalized.record + delta > normalized.records, onclick: () => onSelectEvent(selection.line, normalized.record + delta) }, label);
  const head = el(
    'div',
    { class: 'ocsf-head' },
    el('h3', {}, 'Event ', el('span', { class: 'muted', id: 'ocsf-event-where' }, `${where}${records}`)),
    normalized?.records > 1 ? [step(-1, '‹ record'), step(1, 'record ›')] : null,
  );
  if (!selection) return [head, el('p', { class: 'empty' }, 'Put the cursor on an event line, or click an alert, to see its event as OCSF.')];
  if (!normalized) return [head, el('p', { class: 'muted' }, 'Mapping…')];
  if (!normalized.ok) {
    return [head, el('div', { class: 'notice notice-error', id: 'ocsf-event-error' }, `line ${selection.line} is not an event: ${normalized.error}`)];
  }
  if (!normalized.mapped) {
    return [
      head,
      el('div', { class: 'notice notice-warn', id: 'ocsf-event-note' }, normalized.reason),
      el('p', { class: 'hint' }, MAPPED_SOURCES),
    ];
  }
  return [
    head,
    el(
      'div',
      { class: 'ocsf-class' },
      el('span', { class: 'pill pill-hit', id: 'ocsf-class-uid', 'data-class-uid': normalized.class_uid }, `class_uid ${normalized.class_uid}`),
      el('strong', {}, normalized.class_name || ''),
      el('span', { class: 'hint' }, 'as ', el('code', {}, 'sigil normalize --to ocsf'), ' writes it'),
      el('button', { class: 'button button-small ocsf-copy', id: 'ocsf-event-copy', onclick: onCopyEvent }, 'Copy'),
    ),
    jsonBlock(normalized.pretty, { id: 'ocsf-event' }),
  ];
}

/**
 * The findings part: `alerts` = evaluate's alert summaries, `findings` = the engine's findings
 * answer for (up to `limit` of) them, or null while it is computed.
 */
function findingsSection({ alerts, findings, limit, selection, onSelectEvent, onCopyFindings }) {
  const total = alerts.length;
  const head = el(
    'div',
    { class: 'ocsf-head' },
    el('h3', {}, 'Detection Findings ', el('span', { class: 'count', id: 'ocsf-findings-count' }, String(total))),
    el('span', { class: 'hint' }, 'class 2004, one per alert, as ', el('code', {}, 'sigil hunt --format ocsf'), ' prints them'),
    total ? el('button', { class: 'button button-small ocsf-copy', id: 'ocsf-findings-copy', onclick: onCopyFindings, title: 'Copy the findings as JSON Lines' }, 'Copy') : null,
  );
  if (total === 0) return [head, el('p', { class: 'empty' }, 'No alerts: no finding to show.')];
  if (!findings) return [head, el('p', { class: 'muted' }, 'Writing the findings…')];
  const problems = (findings.errors || []).map((e) => el('div', { class: 'notice notice-error' }, `alert ${e.line}: ${e.message}`));
  // The alerts of the selected event are opened; when it has none, the first finding is.
  const ofSelected = (a) => selection && a.line === selection.line && (a.record ?? 1) === (selection.record ?? 1);
  const anySelected = alerts.slice(0, limit).some(ofSelected);
  const items = (findings.findings || []).map((pretty, i) => {
    const alert = alerts[i];
    const open = anySelected ? ofSelected(alert) : i === 0;
    return el(
      'details',
      { class: `finding${ofSelected(alert) ? ' selected' : ''}`, 'data-index': i, open },
      el(
        'summary',
        {},
        levelBadge(alert.level),
        el('span', { class: 'alert-title' }, alert.title),
        alert.correlation ? el('span', { class: 'tag' }, 'correlation') : null,
        el('button', { class: 'link alert-line', onclick: (e) => (e.preventDefault(), onSelectEvent(alert.line, alert.record ?? 1)), title: 'Show this event as OCSF' }, `event line ${alert.line}`),
      ),
      jsonBlock(pretty),
    );
  });
  return [
    head,
    problems,
    el('div', { class: 'finding-list' }, items),
    total > limit ? el('p', { class: 'hint' }, `The first ${limit} of ${total} alerts are shown as findings; sigil hunt --format ocsf prints them all.`) : null,
  ];
}

/** The whole view. */
export function renderOcsf(view) {
  return el('div', { class: 'ocsf' }, eventSection(view), findingsSection(view));
}
