// Reads an events file the user opens into JSON Lines for the events editor: JSON Lines as is, a
// JSON array or a CloudTrail {"Records": [...]} file one event per line, gzip of any of these
// (as `sigil hunt` reads them). It never evaluates anything.

async function text(file) {
  const head = new Uint8Array(await file.slice(0, 2).arrayBuffer());
  if (head[0] === 0x1f && head[1] === 0x8b) {
    const stream = file.stream().pipeThrough(new DecompressionStream('gzip'));
    return new Response(stream).text();
  }
  return file.text();
}

/** The file's events as JSON Lines (text the user can edit; malformed lines are kept as they are). */
export async function readEventsFile(file) {
  const content = await text(file);
  const trimmed = content.trimStart();
  if (trimmed.startsWith('[') || (trimmed.startsWith('{') && /^\{\s*"Records"\s*:/.test(trimmed))) {
    try {
      const parsed = JSON.parse(content);
      const list = Array.isArray(parsed) ? parsed : Array.isArray(parsed?.Records) ? parsed.Records : null;
      if (list) return list.map((event) => JSON.stringify(event)).join('\n') + '\n';
    } catch {
      // Not one JSON document: treat it as JSON Lines and let the engine point at bad lines.
    }
  }
  return content;
}
