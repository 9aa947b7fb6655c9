// The three CodeMirror 6 panes: the rule (YAML, several documents allowed), the events (JSON
// Lines, with the rule-test marks gutter) and the results (the alerts as `sigil hunt --format
// jsonl` prints them; read-only). Also turns the engine's 1-based line/column diagnostics into
// @codemirror/lint diagnostics in the rule's gutter. It never runs the engine.
import { basicSetup } from 'codemirror';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import { EditorState } from '@codemirror/state';
import { yaml } from '@codemirror/lang-yaml';
import { json } from '@codemirror/lang-json';
import { lintGutter, setDiagnostics } from '@codemirror/lint';
import { indentWithTab } from '@codemirror/commands';
import { caseMarks } from './case-marks.js';

const theme = EditorView.theme({
  '&': { height: '100%', fontSize: '13px' },
  '.cm-scroller': { fontFamily: 'var(--mono)', lineHeight: '1.5' },
  '.cm-gutters': { backgroundColor: 'var(--gutter-bg)', borderRight: '1px solid var(--line)' },
});

function editor(parent, doc, extensions, onChange, onSelect) {
  return new EditorView({
    parent,
    state: EditorState.create({
      doc,
      extensions: [
        basicSetup,
        keymap.of([indentWithTab]),
        theme,
        extensions,
        EditorView.updateListener.of((update) => {
          if (update.docChanged) onChange?.();
          if (update.docChanged || update.selectionSet) onSelect?.(update.state);
        }),
      ],
    }),
  });
}

export function ruleEditor(parent, doc, onChange) {
  return editor(parent, doc, [yaml(), lintGutter(), placeholder('title: ...\nlogsource: ...\ndetection: ...')], onChange);
}

/** `onSelect(state)` follows the cursor (the OCSF view shows the event under it). */
export function eventsEditor(parent, doc, onChange, onSelect) {
  return editor(parent, doc, [json(), caseMarks(onChange), placeholder('{"eventName": "..."}  one JSON object per line')], onChange, onSelect);
}

export function outputEditor(parent) {
  return editor(parent, '', [json(), EditorState.readOnly.of(true), EditorView.editable.of(false), placeholder('no alerts')]);
}

/** Replaces a view's whole text. */
export function setText(view, text) {
  view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: text } });
}

/** Position of a 1-based line/column in the document, clamped to it. */
function position(doc, line, column) {
  const n = Math.min(Math.max(1, line || 1), doc.lines);
  const l = doc.line(n);
  return Math.min(l.from + Math.max(0, (column || 1) - 1), l.to);
}

/** Shows the engine's diagnostics in the rule editor (gutter markers, underline, hover message). */
export function showDiagnostics(view, diagnostics) {
  const doc = view.state.doc;
  const converted = diagnostics.map((d) => {
    const from = position(doc, d.line, d.column);
    let to = d.end_line ? position(doc, d.end_line, d.end_column) : from;
    if (to <= from) to = Math.max(from, doc.lineAt(from).to);
    return { from, to, severity: d.severity === 'warning' ? 'warning' : 'error', message: d.message, source: 'sigil' };
  });
  view.dispatch(setDiagnostics(view.state, converted));
}
