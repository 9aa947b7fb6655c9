// The examples menu: the rule pack's rules (sigma-rules/rules, bundled at build time with their
// unit-test events) grouped by cloud, with a filter; one click loads one. The pack is a separate
// chunk, imported on first open so the page itself stays light. It never touches the editors:
// `onPick(example)` does.
import { el, fill } from './dom.js';

let loaded = null;

function loadExamples() {
  loaded ??= import('virtual:examples').then((m) => m.default);
  return loaded;
}

export function setupExamplesMenu({ button, menu, filter, list, onPick }) {
  let examples = [];

  const render = () => {
    const needle = filter.value.trim().toLowerCase();
    const shown = examples.filter((x) => !needle || `${x.title} ${x.path}`.toLowerCase().includes(needle));
    const groups = new Map();
    for (const x of shown) groups.set(x.group, [...(groups.get(x.group) || []), x]);
    fill(
      list,
      shown.length === 0 ? el('p', { class: 'empty' }, 'No rule matches.') : null,
      [...groups].map(([group, items]) =>
        el(
          'div',
          { class: 'example-group' },
          el('div', { class: 'example-group-name' }, group),
          items.map((x) =>
            el(
              'button',
              { class: 'example', role: 'menuitem', 'data-path': x.path, title: x.path, onclick: () => pick(x) },
              el('span', { class: 'example-title' }, x.title),
              el('span', { class: 'example-meta' }, `${x.cases.length} test case${x.cases.length === 1 ? '' : 's'}`),
            ),
          ),
        ),
      ),
    );
  };

  const close = () => {
    menu.hidden = true;
    button.setAttribute('aria-expanded', 'false');
  };

  const pick = (example) => {
    close();
    onPick(example);
  };

  const open = async () => {
    menu.hidden = false;
    button.setAttribute('aria-expanded', 'true');
    if (examples.length === 0) {
      fill(list, el('p', { class: 'empty' }, 'Loading the rule pack…'));
      examples = await loadExamples();
    }
    render();
    filter.focus();
  };

  button.addEventListener('click', () => (menu.hidden ? open() : close()));
  filter.addEventListener('input', render);
  document.addEventListener('keydown', (e) => e.key === 'Escape' && close());
  document.addEventListener('mousedown', (e) => {
    if (!menu.hidden && !menu.contains(e.target) && !button.contains(e.target)) close();
  });
}
