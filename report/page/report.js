// The page of `sigil report`: draws the data embedded in #report-data (written by
// sigil_report::html) as a timeline, a rule table, an ATT&CK heat map, top entities and a paged
// alert list with each alert's detail; a rule, a technique or an entity filters the timeline and
// the list. Plain JavaScript with no imports, inlined by the crate at
// build time, so the report needs no bundler and no network. It decides nothing about alerts:
// counts, rule order and ATT&CK placement come from the Rust side. Alert text only ever reaches
// the page through textContent, never as markup.
'use strict';
(() => {
  const data = JSON.parse(document.getElementById('report-data').textContent);
  const alerts = data.alerts;
  const rules = data.rules;
  const LEVEL_COLORS = ['#8a9bb5', '#3f9a5a', '#e0a526', '#e0642b', '#b3192c', '#9aa0a8'];
  const PAGE_SIZE = 200;
  const MIN_SPAN_MS = 10;

  // Alerts come sorted by time, those without one last.
  let timed = 0;
  while (timed < alerts.length && alerts[timed].t !== null) timed++;
  const fullRange = timed === 0 ? null : padRange(alerts[0].t, alerts[timed - 1].t);

  const state = { rules: null, entity: null, view: fullRange, page: 0, visible: [], selectedAlert: null, selectedCell: null };

  const $ = (id) => document.getElementById(id);
  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function padRange(first, last) {
    // A single instant still needs a width to draw; a minute either side.
    return first === last ? [first - 60000, last + 60000] : [first, last + 1];
  }

  function isZoomed() {
    return fullRange !== null && (state.view[0] > fullRange[0] || state.view[1] < fullRange[1]);
  }

  function formatTime(t) {
    return new Date(t).toISOString().replace('T', ' ').replace('Z', '');
  }

  /** The first timed alert at or after t. */
  function lowerBound(t) {
    let lo = 0, hi = timed;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (alerts[mid].t < t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  /** The indexes of the alerts that pass the rule or entity filter and lie in the view (all of them when not zoomed). */
  function computeVisible() {
    const { rules: pass, entity } = state;
    const out = [];
    const [from, to] = isZoomed() ? [lowerBound(state.view[0]), lowerBound(state.view[1])] : [0, alerts.length];
    for (let i = from; i < to; i++) {
      if ((pass === null || pass.has(alerts[i].r)) && (entity === null || alerts[i].e.includes(entity))) out.push(i);
    }
    return out;
  }

  // ---- header ------------------------------------------------------------------------------

  function renderHeader() {
    const m = data.meta;
    $('title').textContent = m.title;
    const parts = [`${m.embedded.toLocaleString('en')} alerts from ${rules.length.toLocaleString('en')} rules`];
    if (fullRange) parts.push(`${formatTime(alerts[0].t)} to ${formatTime(alerts[timed - 1].t)} UTC`);
    if (timed < alerts.length) parts.push(`${(alerts.length - timed).toLocaleString('en')} without a time`);
    $('summary').textContent = parts.join(' · ');
    const notices = $('notices');
    if (m.left_out > 0) {
      notices.append(el('p', `Alerts left out: ${m.left_out.toLocaleString('en')}. The report embeds at most ${m.max_alerts.toLocaleString('en')} (sigil report --max-alerts N takes more).`, 'notice'));
      notices.lastChild.id = 'left-out';
    }
    if (m.malformed > 0) {
      const notice = el('div', `Input lines that were not alerts, skipped: ${m.malformed.toLocaleString('en')}.`, 'notice');
      notice.id = 'malformed';
      const details = el('details');
      details.append(el('summary', m.malformed > m.malformed_listed.length ? `the first ${m.malformed_listed.length}` : 'which'));
      for (const bad of m.malformed_listed) details.append(el('div', `line ${bad.line}: ${bad.reason}`));
      notice.append(details);
      notices.append(notice);
    }
  }

  // ---- timeline ----------------------------------------------------------------------------

  const canvas = $('timeline');
  const ctx = canvas.getContext('2d');
  const AXIS = 22;
  let brushFrom = null, brushTo = null;

  function renderLegend() {
    const legend = $('legend');
    data.levels.forEach((level, i) => {
      const item = el('span', level);
      item.style.setProperty('--swatch', LEVEL_COLORS[i]);
      legend.append(item);
    });
  }

  function drawTimeline() {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight || 220;
    canvas.width = Math.max(1, Math.round(width * ratio));
    canvas.height = Math.max(1, Math.round(height * ratio));
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, width, height);
    if (!fullRange) {
      ctx.fillStyle = '#5d6677';
      ctx.font = '13px system-ui, sans-serif';
      ctx.fillText('No alert has an event time.', 12, 24);
      $('range').textContent = '';
      return;
    }
    const [v0, v1] = state.view;
    const span = v1 - v0;
    const plot = height - AXIS;
    const bins = Math.max(1, Math.floor(width / 4));
    const counts = new Array(bins * data.levels.length).fill(0);
    const totals = new Array(bins).fill(0);
    for (const i of state.visible) {
      const a = alerts[i];
      if (a.t === null) continue;
      const bin = Math.min(bins - 1, Math.floor(((a.t - v0) / span) * bins));
      if (bin < 0) continue;
      counts[bin * data.levels.length + a.l]++;
      totals[bin]++;
    }
    const max = Math.max(1, ...totals);
    const barWidth = width / bins;
    for (let b = 0; b < bins; b++) {
      let y = plot;
      for (let l = 0; l < data.levels.length; l++) {
        const n = counts[b * data.levels.length + l];
        if (n === 0) continue;
        const h = Math.max(1, (n / max) * (plot - 14));
        ctx.fillStyle = LEVEL_COLORS[l];
        ctx.fillRect(b * barWidth, y - h, Math.max(1, barWidth - 1), h);
        y -= h;
      }
    }
    // Axis: a baseline, five times and the tallest bar's count.
    ctx.fillStyle = '#1d2330';
    ctx.fillRect(0, plot, width, 1);
    ctx.font = '11px system-ui, sans-serif';
    ctx.fillStyle = '#5d6677';
    ctx.fillText(`max ${max} per bar`, 4, 11);
    for (let k = 0; k <= 4; k++) {
      const x = (k / 4) * width;
      const label = formatTime(v0 + (k / 4) * span).slice(0, 19);
      ctx.textAlign = k === 0 ? 'left' : k === 4 ? 'right' : 'center';
      ctx.fillText(label, x, plot + 15);
    }
    ctx.textAlign = 'left';
    if (brushFrom !== null && brushTo !== null) {
      ctx.fillStyle = 'rgba(47, 111, 221, 0.18)';
      ctx.fillRect(Math.min(brushFrom, brushTo), 0, Math.abs(brushTo - brushFrom), plot);
    }
    $('range').textContent = `${formatTime(v0)} to ${formatTime(v1)} UTC${isZoomed() ? ' (zoomed)' : ''}`;
  }

  function timeAt(x) {
    const [v0, v1] = state.view;
    return v0 + (x / canvas.clientWidth) * (v1 - v0);
  }

  function setView(from, to) {
    if (!fullRange) return;
    if (to - from < MIN_SPAN_MS) {
      const middle = (from + to) / 2;
      from = middle - MIN_SPAN_MS / 2;
      to = middle + MIN_SPAN_MS / 2;
    }
    from = Math.max(fullRange[0], from);
    to = Math.min(fullRange[1], to);
    state.view = [from, to];
    state.page = 0;
    update();
  }

  function bindTimeline() {
    canvas.addEventListener('wheel', (event) => {
      if (!fullRange) return;
      event.preventDefault();
      const x = event.offsetX;
      const at = timeAt(x);
      const factor = Math.exp(event.deltaY * 0.002);
      const [v0, v1] = state.view;
      setView(at - (at - v0) * factor, at + (v1 - at) * factor);
    }, { passive: false });
    canvas.addEventListener('mousedown', (event) => {
      brushFrom = event.offsetX;
      brushTo = null;
    });
    canvas.addEventListener('mousemove', (event) => {
      if (brushFrom === null) return;
      brushTo = event.offsetX;
      drawTimeline();
    });
    window.addEventListener('mouseup', () => {
      if (brushFrom === null) return;
      const [a, b] = [brushFrom, brushTo];
      brushFrom = brushTo = null;
      if (b !== null && Math.abs(b - a) > 4) setView(timeAt(Math.min(a, b)), timeAt(Math.max(a, b)));
      else drawTimeline();
    });
    $('reset-zoom').addEventListener('click', () => fullRange && setView(fullRange[0], fullRange[1]));
    window.addEventListener('resize', drawTimeline);
  }

  // ---- rules, ATT&CK, entities ---------------------------------------------------------------

  function levelBadge(l) {
    const badge = el('span', data.levels[l], 'level');
    badge.style.background = LEVEL_COLORS[l];
    return badge;
  }

  function renderRules() {
    const body = $('rules').tBodies[0];
    rules.forEach((rule, i) => {
      const row = document.createElement('tr');
      row.dataset.rule = String(i);
      row.append(el('td', rule.title), el('td'), el('td', rule.alerts, 'num'));
      row.children[1].append(levelBadge(rule.level));
      row.addEventListener('click', () => filterRules(state.rules && state.rules.size === 1 && state.rules.has(i) ? null : new Set([i]), null));
      body.append(row);
    });
    $('clear-filter').addEventListener('click', () => filterRules(null, null));
  }

  /** Shows only the alerts of `set` (rule indexes; null for all), chosen from the table or an ATT&CK `cell`. */
  function filterRules(set, cell) {
    state.rules = set;
    state.selectedCell = cell;
    state.entity = null;
    filtered();
  }

  /** Shows only the alerts about entity `index` (null for all). */
  function filterEntity(index) {
    state.rules = null;
    state.selectedCell = null;
    state.entity = index;
    filtered();
  }

  function filtered() {
    const { rules: set, selectedCell: cell, entity } = state;
    state.page = 0;
    for (const row of $('rules').tBodies[0].rows) row.classList.toggle('selected', set !== null && set.has(Number(row.dataset.rule)));
    for (const node of document.querySelectorAll('#attack .cell')) node.classList.toggle('selected', node === cell);
    for (const row of document.querySelectorAll('#entities tbody tr')) row.classList.toggle('selected', Number(row.dataset.entity) === entity);
    $('clear-filter').hidden = set === null && entity === null;
    update();
  }

  function heat(value, max) {
    // From #fff7e6 to #e6550d, as `sigil coverage`'s Navigator layer colours its scores.
    const f = max > 0 ? Math.sqrt(value / max) : 0;
    const mix = (a, b) => Math.round(a + (b - a) * f);
    return `rgb(${mix(255, 230)}, ${mix(247, 85)}, ${mix(230, 13)})`;
  }

  function renderAttack() {
    const root = $('attack');
    const byTactic = new Map(data.attack.tactics.map((t) => [t, []]));
    for (const cell of data.attack.cells) byTactic.get(cell.tactic)?.push(cell);
    if (data.attack.cells.length === 0) {
      root.append(el('p', 'No alert comes from a rule with an ATT&CK technique tag.', 'hint'));
      return;
    }
    for (const [tactic, cells] of byTactic) {
      const column = el('div', null, cells.length ? 'tactic' : 'tactic empty');
      column.append(el('h3', tactic));
      cells.sort((a, b) => b.alerts - a.alerts);
      for (const cell of cells) {
        const node = el('div', `${cell.technique} · ${cell.alerts}`, 'cell');
        node.style.background = heat(cell.alerts, data.attack.max);
        node.title = cell.rules.map((r) => rules[r].title).join('\n');
        node.addEventListener('click', () => filterRules(state.selectedCell === node ? null : new Set(cell.rules), state.selectedCell === node ? null : node));
        column.append(node);
      }
      root.append(column);
    }
  }

  function renderEntities() {
    const root = $('entities');
    const entities = data.entities;
    if (entities.length === 0) {
      root.append(el('p', 'No account, host or IP address in the alerts.', 'hint'));
      return;
    }
    const table = el('table');
    const head = table.createTHead().insertRow();
    head.append(el('th', 'Kind'), el('th', 'Value'), el('th', 'Alerts', 'num'));
    const body = table.createTBody();
    entities.forEach((entity, i) => {
      const row = body.insertRow();
      row.dataset.entity = String(i);
      row.append(el('td', entity.kind), el('td', entity.value), el('td', entity.alerts, 'num'));
      row.addEventListener('click', () => filterEntity(state.entity === i ? null : i));
    });
    root.append(table);
  }

  // ---- the alert list and one alert's detail ---------------------------------------------------

  function alertTime(a) {
    if (a.t !== null) return formatTime(a.t);
    const raw = a.a.timestamp;
    return raw === null || raw === undefined ? '(no time)' : String(typeof raw === 'object' ? JSON.stringify(raw) : raw);
  }

  function sourceOf(alert) {
    const s = alert.source;
    if (!s || typeof s !== 'object') return alert.kind || '';
    const file = String(s.file ?? '').split('/').pop();
    return `${file}:${s.line ?? ''}`;
  }

  function renderAlerts() {
    const body = $('alerts').tBodies[0];
    const pages = Math.max(1, Math.ceil(state.visible.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    const start = state.page * PAGE_SIZE;
    const rows = [];
    for (const i of state.visible.slice(start, start + PAGE_SIZE)) {
      const a = alerts[i];
      const row = document.createElement('tr');
      row.dataset.alert = String(i);
      row.append(el('td', alertTime(a)), el('td'), el('td', rules[a.r].title), el('td', sourceOf(a.a)));
      row.children[1].append(levelBadge(a.l));
      if (i === state.selectedAlert) row.classList.add('selected');
      rows.push(row);
    }
    body.replaceChildren(...rows);
    $('visible-count').textContent = String(state.visible.length);
    document.body.dataset.visible = String(state.visible.length);
    $('page').textContent = `page ${state.page + 1} of ${pages}`;
    $('prev-page').disabled = state.page === 0;
    $('next-page').disabled = state.page >= pages - 1;
  }

  function showAlert(i) {
    state.selectedAlert = i;
    for (const row of $('alerts').tBodies[0].rows) row.classList.toggle('selected', Number(row.dataset.alert) === i);
    const a = alerts[i].a;
    const rule = a.rule || {};
    const detail = $('detail');
    const parts = [el('h2', rule.title)];
    const facts = el('dl');
    const fact = (name, value) => {
      if (value === null || value === undefined || (Array.isArray(value) && value.length === 0)) return;
      facts.append(el('dt', name), el('dd', Array.isArray(value) ? value.join(', ') : typeof value === 'object' ? JSON.stringify(value) : value));
    };
    fact('time', alertTime(alerts[i]));
    fact('kind', a.kind);
    fact('level', rule.level);
    fact('rule id', rule.id);
    fact('status', rule.status);
    fact('author', rule.author);
    fact('tags', rule.tags);
    fact('source', a.source ? `${a.source.file}:${a.source.line}` : null);
    fact('entities', alerts[i].e.map((e) => `${data.entities[e].kind} ${data.entities[e].value}`));
    parts.push(facts);
    if (a.matched && typeof a.matched === 'object') {
      parts.push(el('h2', 'Matched fields'));
      const matched = el('dl');
      matched.id = 'matched';
      for (const [field, value] of Object.entries(a.matched)) {
        matched.append(el('dt', field), el('dd', typeof value === 'string' ? value : JSON.stringify(value)));
      }
      parts.push(matched);
    }
    const hasEvent = a.event !== undefined;
    parts.push(el('h2', hasEvent ? 'Event' : 'Alert'));
    const pre = el('pre', JSON.stringify(hasEvent ? a.event : a, null, 2));
    pre.id = 'event';
    parts.push(pre);
    detail.replaceChildren(...parts);
    detail.scrollTop = 0;
  }

  function bindAlerts() {
    $('alerts').tBodies[0].addEventListener('click', (event) => {
      const row = event.target.closest('tr');
      if (row && row.dataset.alert !== undefined) showAlert(Number(row.dataset.alert));
    });
    $('prev-page').addEventListener('click', () => { state.page--; renderAlerts(); });
    $('next-page').addEventListener('click', () => { state.page++; renderAlerts(); });
  }

  function update() {
    state.visible = computeVisible();
    drawTimeline();
    renderAlerts();
  }

  renderHeader();
  renderLegend();
  renderRules();
  renderAttack();
  renderEntities();
  bindTimeline();
  bindAlerts();
  update();
  document.body.dataset.ready = 'true';
})();
