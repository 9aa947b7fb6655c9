// The explain view: why one alert fired, from the engine's explain answer: the condition tree
// with true/false per node, each selection's items (field, modifiers, values, the event's value),
// a correlation's window, group and rules, and the event pretty-printed with the values that
// matched wrapped in <mark>. It only renders; it never calls the engine.
import { el } from './dom.js';

function verdict(value) {
  return el('span', { class: `verdict ${value ? 'verdict-true' : 'verdict-false'}` }, value ? 'true' : 'false');
}

function conditionNode(node) {
  // `and`/`or` label their children's group; every other node's text already says what it is.
  const label = node.op === 'and' || node.op === 'or' ? node.op : '';
  const children = node.children || [];
  return el(
    'li',
    { class: 'cond-node' },
    el('div', { class: 'cond-line' }, verdict(node.value), label && el('span', { class: 'cond-op' }, label), el('code', {}, node.text ?? '')),
    children.length ? el('ul', { class: 'cond-children' }, children.map(conditionNode)) : null,
  );
}

function show(value) {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function itemRow(item) {
  const modifiers = (item.modifiers || []).length ? `|${item.modifiers.join('|')}` : '';
  const values = (item.values || []).map((v, i) => el('code', { class: `value-chip ${item.value_matches?.[i] ? 'value-hit' : ''}` }, show(v)));
  return el(
    'tr',
    { class: item.value ? 'item-true' : 'item-false' },
    el('td', {}, verdict(item.value)),
    el('td', {}, el('code', {}, (item.field ?? '(keywords)') + modifiers)),
    el('td', { class: 'values' }, values.length ? values : el('span', { class: 'muted' }, '(none)')),
    el('td', {}, item.event_value !== undefined ? el('code', { title: item.path || '' }, show(item.event_value)) : el('span', { class: 'muted' }, '—')),
  );
}

function selectionBlock(selection) {
  return el(
    'div',
    { class: 'selection' },
    el('div', { class: 'selection-head' }, verdict(selection.value), el('code', {}, selection.name)),
    el(
      'table',
      { class: 'items' },
      el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', {}, 'field|modifiers'), el('th', {}, 'values'), el('th', {}, 'event value'))),
      el('tbody', {}, (selection.items || []).map(itemRow)),
    ),
  );
}

/** The event as indented JSON, with the values at `marked` paths (the engine's `a.b[0].c`) in <mark>. */
export function renderEvent(event, marked) {
  const pre = el('pre', { class: 'event-json' });
  const write = (value, path, indent) => {
    const pad = '  '.repeat(indent);
    if (value && typeof value === 'object') {
      const isArray = Array.isArray(value);
      const entries = isArray ? value.map((v, i) => [i, v]) : Object.entries(value);
      if (entries.length === 0) return pre.append(isArray ? '[]' : '{}');
      pre.append(isArray ? '[\n' : '{\n');
      entries.forEach(([key, child], i) => {
        pre.append(pad + '  ');
        if (!isArray) pre.append(el('span', { class: 'json-key' }, JSON.stringify(key)), ': ');
        write(child, isArray ? `${path}[${key}]` : path === '' ? key : `${path}.${key}`, indent + 1);
        pre.append(i < entries.length - 1 ? ',\n' : '\n');
      });
      pre.append(pad + (isArray ? ']' : '}'));
      return;
    }
    const text = JSON.stringify(value);
    const kind = typeof value === 'string' ? 'json-string' : 'json-scalar';
    pre.append(el('span', { class: kind }, marked.has(path) ? el('mark', { 'data-path': path }, text) : text));
  };
  write(event, '', 0);
  return pre;
}

/** The paths of the event values that matched (selection items), or that group a correlation. */
export function matchedPaths(explanation) {
  const paths = new Set();
  for (const selection of explanation.selections || []) {
    for (const item of selection.items || []) if (item.value && item.path) paths.add(item.path);
  }
  for (const group of explanation.correlation?.group || []) if (group.value !== null && group.field) paths.add(group.field);
  return paths;
}

function correlationBlock(c) {
  const condition = (c.condition || []).map((part) => `${part.op} ${part.value}`).join(' and ');
  const rows = [
    ['type', c.type + (c.percentile !== undefined ? ` (percentile ${c.percentile})` : '')],
    ['condition', condition || '—'],
    ['timespan', c.timespan],
    ['group-by', (c.group_by || []).join(', ') || '(none: one group)'],
    (c.value_fields || []).length ? ['value fields', c.value_fields.join(', ')] : null,
  ].filter(Boolean);
  const group = (c.group || []).map((g) => `${g.field}=${g.value ?? '(missing)'}`).join(', ');
  return el(
    'div',
    { class: 'correlation' },
    el('table', { class: 'kv' }, el('tbody', {}, rows.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', {}, el('code', {}, v)))))),
    el('h3', {}, 'Rules it reads'),
    el(
      'ul',
      { class: 'corr-rules' },
      (c.rules || []).map((r) =>
        el('li', {}, r.matched === undefined ? el('span', { class: 'tag' }, r.kind) : verdict(r.matched), ' ', r.title, el('span', { class: 'muted mono' }, ` ${r.id}`)),
      ),
    ),
    el('p', {}, c.counted ? `This event counts towards the correlation${group ? `, in the group ${group}` : ''}.` : 'This event does not count towards the correlation.'),
  );
}

/** The whole view for one explain answer and the event text it explains. */
export function renderExplanation(explanation, eventText, eventLine) {
  if (!explanation.ok) {
    return el('div', { class: 'notice notice-error' }, explanation.error || 'the engine could not explain this alert');
  }
  let event = null;
  try {
    event = JSON.parse(eventText);
  } catch {
    // The engine read this line; JavaScript may not (a duplicate key, say): show it as written.
  }
  const marked = matchedPaths(explanation);
  return el(
    'div',
    { class: 'explanation' },
    el(
      'div',
      { class: 'explain-head' },
      el('span', { class: `pill ${explanation.matched ? 'pill-hit' : 'pill-miss'}` }, explanation.matched ? 'matched' : 'no match'),
      el('strong', {}, explanation.title || explanation.rule_id),
      el('span', { class: 'muted' }, ` ${explanation.kind || ''} · event on line ${eventLine}`),
    ),
    explanation.routed === false
      ? el('p', { class: 'notice notice-warn' }, 'Routing keeps this rule from the event: its logsource does not admit the event\'s source (try routing "all").')
      : null,
    explanation.condition ? [el('h3', {}, 'Condition'), el('ul', { class: 'cond-tree' }, conditionNode(explanation.condition))] : null,
    (explanation.selections || []).length ? el('h3', {}, 'Selections') : null,
    (explanation.selections || []).map(selectionBlock),
    explanation.correlation ? [el('h3', {}, 'Correlation'), correlationBlock(explanation.correlation)] : null,
    el('h3', {}, 'Event', marked.size ? el('span', { class: 'muted' }, ' (matched values highlighted)') : null),
    event !== null ? renderEvent(event, marked) : el('pre', { class: 'event-json' }, eventText),
  );
}
