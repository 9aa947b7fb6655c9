// Writes marked test cases as a `RULE.tests.yml`, in the format `sigil test` reads
// (sigma-rules/README.md): `match:` and `no_match:` lists whose items are one event in YAML flow
// style (JSON with a space after each `:` and `,`) or a list of events run in order. It keeps
// each event's own text (numbers are not re-printed through JavaScript's floats). It never
// evaluates cases; the worker does.

/** JSON text laid out as YAML flow style: whitespace outside strings normalised to `": "`, `", "`. */
export function flowStyle(json) {
  let out = '';
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      out += c;
      if (c === '\\') out += json[++i] ?? '';
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === ':' || c === ',') {
      out += `${c} `;
    } else if (!/\s/.test(c)) {
      out += c;
    }
  }
  return out;
}

/** The case's events as text, or the reason it cannot be exported. */
function caseEvents(c, lineText) {
  const events = [];
  for (const n of c.lines) {
    const text = lineText(n).trim();
    let value;
    try {
      value = JSON.parse(text);
    } catch (e) {
      return { error: `line ${n} is not valid JSON (${e.message})` };
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      return { error: `line ${n} is not a JSON object` };
    }
    events.push(flowStyle(text));
  }
  return { events };
}

/**
 * The sidecar for `ruleFile` from the marked cases (`lineText(n)` = the events editor's line n).
 * Returns {yaml, skipped: [reasons], counts: {match, no_match}, problems: [what sigil test will reject]}.
 */
export function testsYaml(ruleFile, cases, lineText) {
  const lists = { match: [], no_match: [] };
  const skipped = [];
  for (const c of cases) {
    const { events, error } = caseEvents(c, lineText);
    if (error) {
      skipped.push(`case on line ${c.lines[0]}: ${error}`);
      continue;
    }
    lists[c.expect].push(events.length === 1 ? events[0] : `[${events.join(', ')}]`);
  }
  let yaml = `# Test events for ${ruleFile} (written by the Sigil playground)\n`;
  for (const key of ['match', 'no_match']) {
    const comment = key === 'match' ? 'each case must raise an alert' : 'each case must raise none';
    yaml += lists[key].length ? `${key}:          # ${comment}\n` : `${key}: []          # ${comment}\n`;
    for (const item of lists[key]) yaml += `  - ${item}\n`;
  }
  const counts = { match: lists.match.length, no_match: lists.no_match.length };
  const problems = [];
  if (counts.match < 2 || counts.no_match < 2) {
    problems.push(`sigil test needs at least 2 "should match" and 2 "should not match" cases (marked: ${counts.match} and ${counts.no_match})`);
  }
  return { yaml, skipped, counts, problems };
}

/** `x.yml` → `x.tests.yml`, as `sigil test` looks for it. */
export function sidecarName(ruleFile) {
  const base = ruleFile.replace(/\.(ya?ml)$/i, '');
  return `${base}.tests.yml`;
}
