// The engine's home: a module Web Worker that loads Sigil's wasm build and answers the page's
// requests (run = compile + evaluate + the marked test cases; explain; ocsf). It times evaluations
// with performance.now(). It never touches the DOM and never decides when to give up on a slow
// evaluation: the page does, by terminating this worker (engine-client.js).
import init, { version, compile, evaluate, explain, normalize, findings } from 'sigil-engine';

/** The engine's answers are JSON strings; a bad one is reported, not thrown at the page. */
function parsed(text, what) {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new Error(`the engine's ${what} answer is not JSON (${e.message}): ${String(text).slice(0, 200)}`);
  }
}

/**
 * One evaluation of what is on screen: the rule's diagnostics and rules, the alerts over all
 * events, and for each marked test case whether it raises an alert on its own in a fresh
 * session, routed as `sigil test` routes (auto).
 */
function run({ rule, events, options, cases }) {
  const optionsJson = JSON.stringify(options);
  const compiled = parsed(compile(rule, optionsJson), 'compile');
  const started = performance.now();
  const evaluated = parsed(evaluate(rule, events, optionsJson), 'evaluate');
  const evalMs = performance.now() - started;
  const caseOptions = JSON.stringify({ ...options, routing: 'auto' });
  const caseResults = (cases || []).map((events) => {
    const answer = parsed(evaluate(rule, events, caseOptions), 'evaluate');
    return {
      ok: answer.ok,
      alerts: (answer.alerts || []).length,
      errors: answer.events?.errors || [],
      titles: [...new Set((answer.alerts || []).map((a) => a.title))],
    };
  });
  return { compiled, evaluated, evalMs, caseResults };
}

function explainOne({ rule, event, ruleId, options }) {
  return parsed(explain(rule, event, ruleId, JSON.stringify(options)), 'explain');
}

/**
 * OCSF: the event on one line (record `record` of a Records line) as `sigil normalize --to ocsf`
 * writes it, and, when `alertsJsonl` is given, those alert lines as Detection Findings.
 */
function ocsf({ event, record, alertsJsonl }) {
  return {
    normalized: event === null ? null : parsed(normalize(event, JSON.stringify({ record })), 'normalize'),
    findings: alertsJsonl === null ? null : parsed(findings(alertsJsonl), 'findings'),
  };
}

const handlers = { run, explain: explainOne, ocsf };

self.onmessage = (message) => {
  const { id, op, args } = message.data;
  try {
    const handler = handlers[op];
    if (!handler) throw new Error(`unknown request "${op}"`);
    self.postMessage({ id, ok: true, result: handler(args) });
  } catch (e) {
    self.postMessage({ id, ok: false, error: String(e?.message || e) });
  }
};

try {
  await init({ module_or_path: new URL('./sigil_playground_bg.wasm', import.meta.url) });
  self.postMessage({ type: 'ready', version: version() });
} catch (e) {
  self.postMessage({ type: 'fatal', error: `the engine did not load: ${e?.message || e}` });
}
