// What Plane does to the HTML it stores: lxml normalization and the stripped text.

/**
 * Plane parses description_html with lxml (html.fromstring → tostring) before saving
 * (IssueSerializer.validate), which changes what a client reads back:
 *  - bare text is wrapped in a paragraph: "hi" → "<p>hi</p>";
 *  - several top-level block elements are wrapped in one container: "<p>a</p><p>b</p>" →
 *    "<div><p>a</p><p>b</p></div>".
 * Only these two cases are reproduced; anything else is stored as sent. An empty description is
 * stored as Plane's model default "<p></p>".
 */
export function normalizeHtml(html: string): string {
  const trimmed = html.trim();
  if (trimmed === '') return '<p></p>';
  if (!trimmed.includes('<')) return `<p>${trimmed}</p>`;
  const tops = topLevelElements(trimmed);
  if (tops && tops.length > 1 && tops.every((t) => BLOCK_TAGS.has(t))) return `<div>${trimmed}</div>`;
  return html;
}

const BLOCK_TAGS = new Set([
  'p',
  'div',
  'ul',
  'ol',
  'li',
  'pre',
  'blockquote',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'table',
  'hr',
  'section',
  'article',
]);
const VOID_TAGS = new Set(['br', 'hr', 'img', 'input', 'meta', 'link', 'area', 'base', 'col', 'embed', 'source', 'track', 'wbr']);

/** Tag names of the top-level elements, or null if there is top-level text or the markup is odd. */
function topLevelElements(html: string): string[] | null {
  const tops: string[] = [];
  let depth = 0;
  let i = 0;
  while (i < html.length) {
    const lt = html.indexOf('<', i);
    const text = html.slice(i, lt < 0 ? html.length : lt);
    if (depth === 0 && text.trim() !== '') return null;
    if (lt < 0) break;
    const gt = html.indexOf('>', lt);
    if (gt < 0) return null;
    const tag = html.slice(lt + 1, gt);
    const m = /^(\/?)([a-zA-Z][a-zA-Z0-9]*)/.exec(tag);
    if (m) {
      const name = m[2]!.toLowerCase();
      if (m[1]) depth -= 1;
      else {
        if (depth === 0) tops.push(name);
        if (!VOID_TAGS.has(name) && !tag.endsWith('/')) depth += 1;
      }
      if (depth < 0) return null;
    }
    i = gt + 1;
  }
  return depth === 0 ? tops : null;
}

/** Text content of HTML, roughly what Plane stores as description_stripped. */
export function stripHtml(html: string): string {
  return html
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|li|h[1-6]|blockquote|pre)>/gi, '\n')
    .replace(/<[^>]*>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, '&')
    .trim();
}
