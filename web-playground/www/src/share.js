// Share links: the whole playground state (rule, events, options, test marks) as JSON, deflated
// with the browser's CompressionStream('deflate-raw') and base64url-encoded into the URL fragment.
// A fragment never leaves the browser, so sharing sends nothing anywhere. It never reads the
// editors itself: main.js hands it a plain state object.

const PREFIX = '#s=';
const FORMAT = 1;

async function pipe(bytes, stream) {
  const piped = new Blob([bytes]).stream().pipeThrough(stream);
  return new Uint8Array(await new Response(piped).arrayBuffer());
}

function toBase64Url(bytes) {
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text) {
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/');
  const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** The fragment (`#s=...`) that restores `state`. */
export async function encodeState(state) {
  const json = new TextEncoder().encode(JSON.stringify({ format: FORMAT, ...state }));
  return PREFIX + toBase64Url(await pipe(json, new CompressionStream('deflate-raw')));
}

/** The state in a fragment, null when the fragment is not a share link; throws when it is damaged. */
export async function decodeState(hash) {
  if (!hash.startsWith(PREFIX)) return null;
  let state;
  try {
    const bytes = await pipe(fromBase64Url(hash.slice(PREFIX.length)), new DecompressionStream('deflate-raw'));
    state = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new Error(`this share link is damaged (${e.message}); ask for a fresh one`);
  }
  if (state.format !== FORMAT) throw new Error(`this share link has format ${state.format}; this playground reads ${FORMAT}`);
  return state;
}
