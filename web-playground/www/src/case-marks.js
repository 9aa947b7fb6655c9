// Rule-test marks in the events editor: a gutter where each event line can be marked "should
// match" or "should not match". A mark belongs to a case: one line, or several lines marked
// together (a sequence of events, for correlation rules), as in `RULE.tests.yml`. Marks move with
// the text as it is edited, and show the pass/fail of their case once evaluated. It never runs
// the engine and never writes YAML: main.js and tests-export.js do.
import { StateEffect, StateField, RangeSet, MapMode } from '@codemirror/state';
import { gutter, GutterMarker, EditorView } from '@codemirror/view';

const EXPECT_LABEL = { match: 'should match', no_match: 'should not match' };

class CaseMark extends GutterMarker {
  constructor(caseId, expect) {
    super();
    this.caseId = caseId;
    this.expect = expect;
  }
  eq(other) {
    return other.caseId === this.caseId && other.expect === this.expect;
  }
}
// A mark whose line is deleted goes with it; text inserted at its position goes before it, so
// the mark stays with its event when a line is inserted above.
CaseMark.prototype.mapMode = MapMode.TrackDel;
CaseMark.prototype.startSide = 1;

class ShownMark extends GutterMarker {
  constructor(mark, status, continues) {
    super();
    this.mark = mark;
    this.status = status;
    this.continues = continues;
  }
  eq(other) {
    return other.mark.eq(this.mark) && other.status === this.status && other.continues === this.continues;
  }
  toDOM() {
    const el = document.createElement('span');
    const { expect, caseId } = this.mark;
    el.className = `case-mark case-${expect} ${this.status ? `case-${this.status}` : ''} ${this.continues ? 'case-continues' : ''}`;
    el.textContent = this.continues ? '│' : expect === 'match' ? '✓' : '✗';
    const status = this.status ? `: ${this.status === 'pass' ? 'passes' : this.status === 'fail' ? 'fails' : 'cannot run'}` : '';
    el.title = `case ${caseId}, ${EXPECT_LABEL[expect]}${status} (click to change)`;
    el.dataset.case = String(caseId);
    el.dataset.expect = expect;
    if (this.status) el.dataset.status = this.status;
    return el;
  }
}

/** Replaces every mark: `cases` is [{expect, lines: [1-based line numbers]}]. */
export const setCases = StateEffect.define();
/** Case id → "pass" | "fail" | "error", from the last evaluation. */
export const setCaseStatus = StateEffect.define();
const toggleLine = StateEffect.define();
const markLines = StateEffect.define();

function build(doc, cases, firstId) {
  const ranges = [];
  let id = firstId;
  for (const c of cases) {
    for (const n of c.lines) if (n >= 1 && n <= doc.lines) ranges.push(new CaseMark(id, c.expect).range(doc.line(n).from));
    id += 1;
  }
  return { set: RangeSet.of(ranges, true), nextId: id };
}

function marksOnLine(set, line) {
  const found = [];
  set.between(line.from, line.to, (from, _to, mark) => {
    found.push(mark);
  });
  return found;
}

function withoutLines(set, doc, lineNumbers) {
  const numbers = new Set(lineNumbers);
  return set.update({ filter: (from) => !numbers.has(doc.lineAt(from).number) });
}

/** Drops the marks of lines whose whole text a change replaces (a paste over everything, say). */
function withoutReplacedLines(set, tr) {
  const old = tr.startState.doc;
  const replaced = [];
  tr.changes.iterChangedRanges((fromA, toA) => {
    if (toA > fromA) replaced.push([fromA, toA]);
  });
  if (replaced.length === 0) return set;
  return set.update({
    filter: (from) => {
      const line = old.lineAt(from);
      return !replaced.some(([a, b]) => a <= line.from && b >= line.to);
    },
  });
}

const marksField = StateField.define({
  create: () => ({ set: RangeSet.empty, nextId: 1, status: new Map() }),
  update(value, tr) {
    let { set, nextId, status } = value;
    if (tr.docChanged) set = withoutReplacedLines(set, tr).map(tr.changes);
    const doc = tr.state.doc;
    for (const effect of tr.effects) {
      if (effect.is(setCases)) {
        ({ set, nextId } = build(doc, effect.value, 1));
        status = new Map();
      } else if (effect.is(setCaseStatus)) {
        status = effect.value;
      } else if (effect.is(toggleLine)) {
        const line = doc.line(effect.value);
        const [mark] = marksOnLine(set, line);
        if (!mark) {
          set = set.update({ add: [new CaseMark(nextId++, 'match').range(line.from)], sort: true });
        } else if (mark.expect === 'match') {
          const ranges = [];
          set.between(0, doc.length, (from, _to, m) => {
            ranges.push((m.caseId === mark.caseId ? new CaseMark(m.caseId, 'no_match') : m).range(from));
          });
          set = RangeSet.of(ranges, true);
        } else {
          set = set.update({ filter: (_from, _to, m) => m.caseId !== mark.caseId });
        }
      } else if (effect.is(markLines)) {
        const { lines, expect } = effect.value;
        set = withoutLines(set, doc, lines);
        if (expect) set = set.update({ add: lines.map((n) => new CaseMark(nextId, expect).range(doc.line(n).from)), sort: true });
        nextId += 1;
      }
    }
    return { set, nextId, status };
  },
});

/** The cases marked in the editor, in line order: [{id, expect, lines: [1-based]}]. */
export function markedCases(state) {
  const byId = new Map();
  const { set } = state.field(marksField);
  set.between(0, state.doc.length, (from, _to, mark) => {
    const n = state.doc.lineAt(from).number;
    const c = byId.get(mark.caseId) ?? { id: mark.caseId, expect: mark.expect, lines: [] };
    if (!c.lines.includes(n)) c.lines.push(n);
    byId.set(mark.caseId, c);
  });
  return [...byId.values()].map((c) => ({ ...c, lines: c.lines.sort((a, b) => a - b) })).sort((a, b) => a.lines[0] - b.lines[0]);
}

/** Marks the lines of the main selection as one case (`expect` null clears them). */
export function markSelection(view, expect) {
  const { state } = view;
  const range = state.selection.main;
  const first = state.doc.lineAt(range.from).number;
  const last = state.doc.lineAt(range.to).number;
  const lines = [];
  for (let n = first; n <= last; n++) if (state.doc.line(n).text.trim()) lines.push(n);
  if (lines.length === 0) return false;
  view.dispatch({ effects: markLines.of({ lines, expect }) });
  return true;
}

const marksGutter = gutter({
  class: 'cm-case-gutter',
  renderEmptyElements: true,
  lineMarker(view, line) {
    const { set, status } = view.state.field(marksField);
    const [mark] = marksOnLine(set, line);
    if (!mark) return null;
    const above = line.from > 0 ? view.state.doc.lineAt(line.from - 1) : null;
    const continues = !!above && marksOnLine(set, above).some((m) => m.caseId === mark.caseId);
    return new ShownMark(mark, status.get(mark.caseId), continues);
  },
  lineMarkerChange: (update) => update.startState.field(marksField) !== update.state.field(marksField),
  initialSpacer: () => new ShownMark(new CaseMark(0, 'match'), null, false),
  domEventHandlers: {
    mousedown(view, line) {
      const n = view.state.doc.lineAt(line.from).number;
      if (!view.state.doc.line(n).text.trim()) return false;
      view.dispatch({ effects: toggleLine.of(n) });
      return true;
    },
  },
});

/** The marks gutter; `onMarksChanged` runs when the user changes marks without editing text. */
export function caseMarks(onMarksChanged) {
  return [
    marksField,
    marksGutter,
    EditorView.updateListener.of((update) => {
      if (!update.docChanged && update.startState.field(marksField).set !== update.state.field(marksField).set) onMarksChanged?.();
    }),
    EditorView.baseTheme({ '.cm-case-gutter .cm-gutterElement': { cursor: 'pointer' } }),
  ];
}
