// A tiny element builder for the results views, so they build DOM nodes (text is always set as
// text, never parsed as HTML: event and rule content cannot inject markup). Nothing else.

/** `el('td', {class: 'x'}, child, ...)`: children may be nodes, strings, arrays, null/false. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  const add = (child) => {
    if (child === null || child === undefined || child === false || child === '') return;
    if (Array.isArray(child)) child.forEach(add);
    else node.append(child instanceof Node ? child : String(child));
  };
  children.forEach(add);
  return node;
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  const add = (child) => {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(add);
    else node.append(child instanceof Node ? child : String(child));
  };
  children.forEach(add);
}
