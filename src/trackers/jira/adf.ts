import { marked, type Token, type Tokens } from 'marked';
import type { AdfDoc, AdfMark, AdfNode } from './wire.ts';

/**
 * Markdown <-> Atlassian Document Format. Jira Cloud's v3 API takes and returns descriptions and
 * comments only as ADF (docs/trackers.md 4.5: `description`, `environment` and textarea fields
 * "take ADF"; a plain string is refused with "Operation value must be an Atlassian Document").
 * Items carry markdown, so bodies are converted on the way out and back.
 *
 * Parsing uses marked's lexer (GFM): its token tree maps onto ADF nodes one to one. Writing is our
 * own, because the converse must be stable: markdown -> ADF -> markdown -> ADF gives the same ADF,
 * otherwise Trackline's own write would read back as a remote change (an echo).
 *
 * Supported both ways: paragraphs, headings, bullet / ordered / task lists (nested), code blocks
 * with language, block quotes, rules, GFM tables, hard breaks, and the marks strong, em, strike,
 * code and link. ADF-only nodes read as their nearest markdown (mention -> @name, panel -> quote,
 * media -> a placeholder); ADF allows the code mark only together with link, so code inside bold
 * loses the bold.
 */

// ------------------------------------------------------------------------------ markdown -> ADF

export function markdownToAdf(markdown: string): AdfDoc {
  const tokens = marked.lexer(markdown ?? '', { gfm: true });
  return { type: 'doc', version: 1, content: blocksFrom(tokens) };
}

function blocksFrom(tokens: Token[]): AdfNode[] {
  const out: AdfNode[] = [];
  for (const token of tokens) out.push(...blockFrom(token));
  return out;
}

function blockFrom(token: Token): AdfNode[] {
  switch (token.type) {
    case 'space':
    case 'def':
      return [];
    case 'paragraph':
      return [paragraph(inlineFrom((token as Tokens.Paragraph).tokens))];
    case 'text': {
      // Block-level text: the body of a tight list item.
      const t = token as Tokens.Text;
      return [paragraph(t.tokens ? inlineFrom(t.tokens) : textNodes(decodeEntities(t.text), []))];
    }
    case 'heading': {
      const h = token as Tokens.Heading;
      return [withContent({ type: 'heading', attrs: { level: Math.min(6, Math.max(1, h.depth)) } }, inlineFrom(h.tokens))];
    }
    case 'code': {
      const c = token as Tokens.Code;
      const language = c.lang?.trim().split(/\s+/)[0];
      const node: AdfNode = { type: 'codeBlock', ...(language ? { attrs: { language } } : {}) };
      return [withContent(node, c.text ? [{ type: 'text', text: c.text }] : [])];
    }
    case 'blockquote':
      return [withContent({ type: 'blockquote' }, blocksFrom((token as Tokens.Blockquote).tokens))];
    case 'hr':
      return [{ type: 'rule' }];
    case 'list':
      return [listFrom(token as Tokens.List)];
    case 'table':
      return [tableFrom(token as Tokens.Table)];
    case 'html': {
      const text = (token as Tokens.HTML).text.trim();
      return text ? [paragraph(textNodes(text, []))] : [];
    }
    default: {
      const raw = (token as { raw?: string }).raw?.trim();
      return raw ? [paragraph(textNodes(raw, []))] : [];
    }
  }
}

function listFrom(list: Tokens.List): AdfNode {
  if (list.items.length > 0 && list.items.every((i) => i.task)) return taskListFrom(list);
  const items = list.items.map((item) => {
    const blocks = blocksFrom(item.tokens.filter((t) => t.type !== 'checkbox'));
    // ADF wants a listItem to open with a paragraph (or code block); an empty item gets one.
    if (blocks.length === 0 || !['paragraph', 'codeBlock'].includes(blocks[0].type)) blocks.unshift({ type: 'paragraph' });
    return { type: 'listItem', content: blocks };
  });
  if (list.ordered) {
    const start = typeof list.start === 'number' ? list.start : Number(list.start) || 1;
    return { type: 'orderedList', attrs: { order: start }, content: items };
  }
  return { type: 'bulletList', content: items };
}

let localIds = 0;
/** taskList / taskItem require a localId; any unique string does. */
function nextLocalId(): string {
  localIds = (localIds + 1) % 1_000_000_000;
  return `tl-${Date.now().toString(36)}-${localIds.toString(36)}`;
}

function taskListFrom(list: Tokens.List): AdfNode {
  const content: AdfNode[] = [];
  for (const item of list.items) {
    const tokens = item.tokens.filter((t) => t.type !== 'checkbox');
    const first = tokens.find((t) => t.type === 'text' || t.type === 'paragraph') as Tokens.Text | Tokens.Paragraph | undefined;
    const inline = first ? (first.tokens ? inlineFrom(first.tokens) : textNodes(decodeEntities(first.text), [])) : [];
    content.push(withContent({ type: 'taskItem', attrs: { localId: nextLocalId(), state: item.checked ? 'DONE' : 'TODO' } }, inline));
    // taskItem holds inline content only; a nested task list follows it as a sibling (ADF's nesting).
    for (const t of tokens)
      if (t.type === 'list' && (t as Tokens.List).items.every((i) => i.task)) content.push(taskListFrom(t as Tokens.List));
  }
  return { type: 'taskList', attrs: { localId: nextLocalId() }, content };
}

function tableFrom(table: Tokens.Table): AdfNode {
  const cell = (type: 'tableHeader' | 'tableCell', c: Tokens.TableCell): AdfNode => ({ type, content: [paragraph(inlineFrom(c.tokens))] });
  const rows: AdfNode[] = [{ type: 'tableRow', content: table.header.map((c) => cell('tableHeader', c)) }];
  for (const row of table.rows) rows.push({ type: 'tableRow', content: row.map((c) => cell('tableCell', c)) });
  return { type: 'table', content: rows };
}

function paragraph(content: AdfNode[]): AdfNode {
  return withContent({ type: 'paragraph' }, content);
}

function withContent(node: AdfNode, content: AdfNode[]): AdfNode {
  return content.length ? { ...node, content } : node;
}

const MARK_ORDER = ['link', 'strong', 'em', 'strike', 'code'];

function inlineFrom(tokens: Token[] | undefined, marks: AdfMark[] = []): AdfNode[] {
  const out: AdfNode[] = [];
  for (const token of tokens ?? []) {
    switch (token.type) {
      case 'text': {
        const t = token as Tokens.Text;
        out.push(...(t.tokens ? inlineFrom(t.tokens, marks) : textNodes(decodeEntities(t.text), marks)));
        break;
      }
      case 'escape':
        out.push(...textNodes((token as Tokens.Escape).text, marks));
        break;
      case 'strong':
        out.push(...inlineFrom((token as Tokens.Strong).tokens, addMark(marks, { type: 'strong' })));
        break;
      case 'em':
        out.push(...inlineFrom((token as Tokens.Em).tokens, addMark(marks, { type: 'em' })));
        break;
      case 'del':
        out.push(...inlineFrom((token as Tokens.Del).tokens, addMark(marks, { type: 'strike' })));
        break;
      case 'codespan':
        // ADF: the code mark combines only with link.
        out.push(
          ...textNodes(
            (token as Tokens.Codespan).text,
            addMark(
              marks.filter((m) => m.type === 'link'),
              { type: 'code' },
            ),
          ),
        );
        break;
      case 'link': {
        const l = token as Tokens.Link;
        out.push(...inlineFrom(l.tokens, addMark(marks, { type: 'link', attrs: { href: decodeEntities(l.href) } })));
        break;
      }
      case 'image': {
        // Images need an upload (media); the link keeps the reference without losing it.
        const img = token as Tokens.Image;
        out.push(...textNodes(img.text || img.href, addMark(marks, { type: 'link', attrs: { href: decodeEntities(img.href) } })));
        break;
      }
      case 'br':
        out.push({ type: 'hardBreak' });
        break;
      case 'checkbox':
        break;
      case 'html':
        out.push(...textNodes((token as Tokens.HTML).text, marks));
        break;
      default:
        out.push(...textNodes((token as { raw?: string }).raw ?? '', marks));
    }
  }
  return mergeText(out);
}

function addMark(marks: AdfMark[], mark: AdfMark): AdfMark[] {
  const next = [...marks.filter((m) => m.type !== mark.type), mark];
  return next.sort((a, b) => MARK_ORDER.indexOf(a.type) - MARK_ORDER.indexOf(b.type));
}

function textNodes(text: string, marks: AdfMark[]): AdfNode[] {
  // ADF refuses empty text nodes.
  if (!text) return [];
  return [marks.length ? { type: 'text', text, marks } : { type: 'text', text }];
}

/** Adjacent text nodes with the same marks become one (what Jira's editor stores). */
function mergeText(nodes: AdfNode[]): AdfNode[] {
  const out: AdfNode[] = [];
  for (const node of nodes) {
    const last = out.at(-1);
    if (last && last.type === 'text' && node.type === 'text' && sameMarks(last.marks, node.marks)) {
      out[out.length - 1] = { ...last, text: (last.text ?? '') + (node.text ?? '') };
    } else {
      out.push(node);
    }
  }
  return out;
}

function sameMarks(a: AdfMark[] | undefined, b: AdfMark[] | undefined): boolean {
  return JSON.stringify(normalizeMarks(a)) === JSON.stringify(normalizeMarks(b));
}

function normalizeMarks(marks: AdfMark[] | undefined): AdfMark[] {
  return (marks ?? [])
    .filter((m) => MARK_ORDER.includes(m.type))
    .map((m) => (m.type === 'link' ? { type: 'link', attrs: { href: String(m.attrs?.href ?? '') } } : { type: m.type }))
    .sort((a, b) => MARK_ORDER.indexOf(a.type) - MARK_ORDER.indexOf(b.type));
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: '\u00a0' };

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return ENTITIES[name.toLowerCase()] ?? whole;
  });
}

// ------------------------------------------------------------------------------ ADF -> markdown

export function adfToMarkdown(doc: AdfNode | null | undefined): string {
  if (!doc || typeof doc !== 'object') return '';
  const blocks = doc.type === 'doc' ? (doc.content ?? []) : [doc];
  return renderBlocks(blocks).trim();
}

function renderBlocks(nodes: AdfNode[]): string {
  const parts: string[] = [];
  for (const node of nodes) {
    const text = renderBlock(node);
    if (text !== '') parts.push(text);
  }
  return parts.join('\n\n');
}

function renderBlock(node: AdfNode): string {
  switch (node.type) {
    case 'paragraph':
      return renderInline(node.content ?? []);
    case 'heading': {
      const level = Math.min(6, Math.max(1, Number(node.attrs?.level) || 1));
      return `${'#'.repeat(level)} ${renderInline(node.content ?? [])}`;
    }
    case 'bulletList':
      return (node.content ?? []).map((item) => renderListItem(item, '- ')).join('\n');
    case 'orderedList': {
      const start = Number(node.attrs?.order) || 1;
      return (node.content ?? []).map((item, i) => renderListItem(item, `${start + i}. `)).join('\n');
    }
    case 'taskList':
      return renderTaskList(node);
    case 'codeBlock': {
      const text = (node.content ?? []).map((t) => t.text ?? '').join('');
      const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
      const fence = '`'.repeat(Math.max(3, longest + 1));
      const language = typeof node.attrs?.language === 'string' ? node.attrs.language : '';
      return `${fence}${language}\n${text}${text ? '\n' : ''}${fence}`;
    }
    case 'blockquote':
    case 'panel':
      return prefixLines(renderBlocks(node.content ?? []), '> ', '>');
    case 'rule':
      return '---';
    case 'table':
      return renderTable(node);
    case 'expand':
    case 'nestedExpand': {
      const title =
        typeof node.attrs?.title === 'string' && node.attrs.title ? `**${escapeText(node.attrs.title, false, false)}**\n\n` : '';
      return title + renderBlocks(node.content ?? []);
    }
    case 'mediaSingle':
    case 'mediaGroup':
      return renderBlocks(node.content ?? []);
    case 'media': {
      const url = typeof node.attrs?.url === 'string' ? node.attrs.url : '';
      return url ? `![](${url})` : '[attachment]';
    }
    default:
      if (node.content) return renderBlocks(node.content);
      return renderInline([node]);
  }
}

function renderListItem(item: AdfNode, marker: string): string {
  const indent = ' '.repeat(marker.length);
  const children = item.type === 'listItem' ? (item.content ?? []) : [item];
  let out = '';
  children.forEach((child, i) => {
    const text = renderBlock(child);
    if (i === 0) {
      out = marker + indentLines(text, indent).slice(indent.length);
      return;
    }
    // A list right under the item's first line keeps the list tight; anything else is a new block.
    const isList = ['bulletList', 'orderedList', 'taskList'].includes(child.type);
    out += (isList ? '\n' : '\n\n') + indentLines(text, indent);
  });
  return out || marker.trimEnd();
}

function renderTaskList(node: AdfNode, depth = 0): string {
  const indent = '  '.repeat(depth);
  const lines: string[] = [];
  for (const child of node.content ?? []) {
    if (child.type === 'taskItem') {
      const box = child.attrs?.state === 'DONE' ? '[x]' : '[ ]';
      lines.push(`${indent}- ${box} ${renderInline(child.content ?? [])}`.trimEnd());
    } else if (child.type === 'taskList') {
      lines.push(renderTaskList(child, depth + 1));
    }
  }
  return lines.join('\n');
}

function renderTable(node: AdfNode): string {
  const rows = (node.content ?? []).filter((r) => r.type === 'tableRow');
  if (rows.length === 0) return '';
  const cellText = (cell: AdfNode) =>
    (cell.content ?? [])
      .map((b) => (b.type === 'paragraph' ? renderInline(b.content ?? []) : renderBlock(b)))
      .join(' ')
      .replace(/\n/g, ' ')
      .replace(/\|/g, '\\|');
  const width = Math.max(...rows.map((r) => (r.content ?? []).length));
  const line = (cells: string[]) => `| ${Array.from({ length: width }, (_, i) => cells[i] ?? '').join(' | ')} |`;
  const [header, ...body] = rows.map((r) => (r.content ?? []).map(cellText));
  return [line(header), line(Array.from({ length: width }, () => '---')), ...body.map(line)].join('\n');
}

function indentLines(text: string, indent: string): string {
  return text
    .split('\n')
    .map((l) => (l ? indent + l : l))
    .join('\n');
}

function prefixLines(text: string, prefix: string, emptyPrefix: string): string {
  return text
    .split('\n')
    .map((l) => (l ? prefix + l : emptyPrefix))
    .join('\n');
}

/** Inline nodes as markdown: marks opened and closed like a stack, so nesting survives. */
function renderInline(nodes: AdfNode[]): string {
  let out = '';
  // Open marks, innermost last, with the delimiter each was opened with.
  const open: Array<{ mark: AdfMark; delim: string }> = [];
  // Whitespace at the end of marked text goes outside the marks that end there (`**a** b`, never
  // `**a **`, which markdown would not read as bold); it waits until the next node says which.
  let pending = '';
  const close = (keep: number) => {
    while (open.length > keep) {
      const { mark, delim } = open.pop()!;
      out += closeMark(mark, delim);
    }
  };
  const flat = nodes.flatMap(flattenInline);
  flat.forEach((node, index) => {
    if (node.type === 'hardBreak') {
      close(0);
      out += pending + '\\\n';
      pending = '';
      return;
    }
    const text = node.text ?? '';
    const marks = normalizeMarks(node.marks).filter((m) => m.type !== 'code');
    const isCode = (node.marks ?? []).some((m) => m.type === 'code');
    // Whitespace-only text never opens or closes marks: `**a** **b**` stays as written.
    if (!isCode && text.trim() === '') {
      pending += text;
      return;
    }
    // Keep the longest run of open marks that this node also carries; close the rest.
    let keep = 0;
    while (keep < open.length && marks.some((m) => markEquals(m, open[keep].mark))) keep++;
    const lead = isCode ? '' : (/^\s+/.exec(text)?.[0] ?? '');
    const trail = isCode ? '' : (/\s+$/.exec(text)?.[0] ?? '');
    const core = isCode ? text : text.slice(lead.length, text.length - trail.length);
    close(keep);
    out += pending + lead;
    pending = trail;
    for (const mark of marks) {
      if (open.some((m) => markEquals(m.mark, mark))) continue;
      const delim = mark.type === 'em' ? emDelimiter(out, flat, index) : openMark(mark);
      out += mark.type === 'em' ? delim : openMark(mark);
      open.push({ mark, delim });
    }
    const atLineStart = out === '' || out.endsWith('\n');
    out += isCode
      ? codeSpan(core)
      : escapeText(
          core,
          atLineStart,
          open.some((m) => m.mark.type === 'link'),
        );
  });
  close(0);
  // Trailing whitespace at the end of a block means nothing in markdown.
  return out;
}

/**
 * `_` for emphasis, so it never runs into `**` (`***a* b**` is ambiguous, `**_a_ b**` is not);
 * `*` where a letter or digit touches the run, because `_` does not work inside a word.
 */
function emDelimiter(before: string, flat: AdfNode[], start: number): string {
  if (/[\p{L}\p{N}]$/u.test(before)) return '*';
  let i = start;
  while (i + 1 < flat.length && flat[i + 1].type === 'text' && (flat[i + 1].marks ?? []).some((m) => m.type === 'em')) i++;
  const last = flat[i].text ?? '';
  const next = flat[i + 1];
  if (/\s$/.test(last) || !next || next.type !== 'text') return '_';
  return /^[\p{L}\p{N}]/u.test(next.text ?? '') ? '*' : '_';
}

/** ADF inline nodes that have no markdown form read as text. */
function flattenInline(node: AdfNode): AdfNode[] {
  const attrs = node.attrs ?? {};
  switch (node.type) {
    case 'text':
    case 'hardBreak':
      return [node];
    case 'mention':
      return [{ type: 'text', text: String(attrs.text ?? `@${attrs.id ?? 'someone'}`) }];
    case 'emoji':
      return [{ type: 'text', text: String(attrs.text ?? attrs.shortName ?? '') }];
    case 'inlineCard':
      return attrs.url ? [{ type: 'text', text: String(attrs.url), marks: [{ type: 'link', attrs: { href: String(attrs.url) } }] }] : [];
    case 'status':
      return [{ type: 'text', text: String(attrs.text ?? '') }];
    case 'date':
      return [{ type: 'text', text: new Date(Number(attrs.timestamp)).toISOString().slice(0, 10) }];
    default:
      return node.content ? node.content.flatMap(flattenInline) : node.text ? [{ type: 'text', text: node.text }] : [];
  }
}

function markEquals(a: AdfMark, b: AdfMark): boolean {
  return a.type === b.type && (a.type !== 'link' || a.attrs?.href === b.attrs?.href);
}

function openMark(mark: AdfMark): string {
  switch (mark.type) {
    case 'strong':
      return '**';
    case 'em':
      return '*';
    case 'strike':
      return '~~';
    case 'link':
      return '[';
    default:
      return '';
  }
}

function closeMark(mark: AdfMark, delim?: string): string {
  if (mark.type === 'em' && delim) return delim;
  if (mark.type === 'link') {
    const href = String(mark.attrs?.href ?? '');
    return `](${/[\s()<>]/.test(href) ? `<${href.replace(/[<>]/g, encodeURIComponent)}>` : href})`;
  }
  return openMark(mark);
}

function codeSpan(text: string): string {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = '`'.repeat(longest + 1);
  // A code span that starts or ends with a backtick, or with spaces on both sides, needs padding
  // (CommonMark strips one space from each side).
  const pad = text.startsWith('`') || text.endsWith('`') || (text.startsWith(' ') && text.endsWith(' ') && text.trim() !== '');
  return pad ? `${ticks} ${text} ${ticks}` : `${ticks}${text}${ticks}`;
}

/**
 * Escapes what markdown would otherwise read as markup, and only that: plain text such as
 * `snake_case` or `a [note]` reads back unchanged.
 */
function escapeText(text: string, atLineStart: boolean, inLink = false): string {
  const tildes = (text.match(/~/g) ?? []).length;
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    const before = text[i - 1] ?? '';
    const after = text[i + 1] ?? '';
    if (c === '\\' || c === '`') out += `\\${c}`;
    else if (c === '*' || c === '_') {
      // A `*` or `_` with whitespace on both sides can neither open nor close emphasis, and `_`
      // inside a word never does (GFM); everything else is escaped.
      const spaced = /\s/.test(before) && /\s/.test(after);
      const intraword = c === '_' && /[\p{L}\p{N}]/u.test(before) && /[\p{L}\p{N}]/u.test(after);
      out += spaced || intraword ? c : `\\${c}`;
    }
    // Inside link text any bracket would end it early; elsewhere `]` followed by `(` or `[`
    // would close a link.
    else if ('[]()'.includes(c) && inLink) out += `\\${c}`;
    else if (c === ']' && (after === '(' || after === '[')) out += '\\]';
    // `<tag`, `<http:` would be HTML or an autolink; `&name;` an entity.
    else if (c === '<' && /[A-Za-z/!?]/.test(after)) out += '\\<';
    else if (c === '&' && /^&#?[A-Za-z0-9]+;/.test(text.slice(i))) out += '\\&';
    // `~x~` is strikethrough in GFM; a lone tilde (`~5 min`) is not.
    else if (c === '~' && tildes >= 2) out += '\\~';
    else out += c;
  }
  // Block syntax only counts at the start of a line.
  return out.replace(
    /(^|\n)([ \t]*)(#{1,6}(?=\s|$)|>|[-+](?=\s)|\d+(?=[.)](?:\s|$))|=+(?=[ \t]*(?:\n|$))|-+(?=[ \t]*(?:\n|$)))/g,
    (_m, nl: string, ws: string, syntax: string) => {
      if (nl === '' && !atLineStart) return nl + ws + syntax;
      if (/^\d+$/.test(syntax)) return `${nl}${ws}${syntax}\\`;
      return `${nl}${ws}\\${syntax}`;
    },
  );
}

// ------------------------------------------------------------------------------ shape checks

/** True when `value` is shaped like an ADF document (the check Jira makes before storing one). */
export function isAdfDoc(value: unknown): value is AdfDoc {
  const v = value as AdfDoc | null;
  return !!v && typeof v === 'object' && v.type === 'doc' && v.version === 1 && Array.isArray(v.content);
}

/** The document's plain text, for logs and short previews. */
export function adfPlainText(node: AdfNode | null | undefined): string {
  if (!node) return '';
  if (node.type === 'text') return node.text ?? '';
  return (node.content ?? []).map(adfPlainText).join(node.type === 'doc' ? '\n' : '');
}
