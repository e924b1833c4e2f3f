// The one way the studio builds elements: properties and attributes set by name, text as text nodes, so
// no story, title or error message is ever parsed as HTML.

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown>} props element properties (className, htmlFor, …) or attributes (aria-*, role, data-*)
 * @param {...(Node | string)} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name.includes('-') || name === 'role') node.setAttribute(name, String(value));
    else node[name] = value;
  }
  node.append(...children);
  return node;
}
