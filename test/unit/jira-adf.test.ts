import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { adfToMarkdown, markdownToAdf } from '../../src/trackers/jira/adf.ts';
import { commentToAdf, readCommentBody } from '../../src/trackers/jira/transform.ts';
import type { AdfNode } from '../../src/trackers/jira/wire.ts';

/**
 * A structural ADF check following the ADF schema's content rules for the nodes Trackline writes
 * (developer.atlassian.com "Atlassian Document Format" node reference): which children each node
 * may hold, non-empty text, marks allowed, and code combining only with link.
 */
const INLINE = new Set(['text', 'hardBreak', 'mention', 'emoji', 'inlineCard', 'date', 'status']);
const BLOCK = new Set([
  'paragraph',
  'heading',
  'bulletList',
  'orderedList',
  'codeBlock',
  'blockquote',
  'rule',
  'table',
  'taskList',
  'panel',
  'mediaSingle',
]);
const MARKS = new Set(['strong', 'em', 'strike', 'code', 'link', 'underline', 'subsup', 'textColor']);

function adfErrors(node: AdfNode, path = 'doc'): string[] {
  const errors: string[] = [];
  const kids = node.content ?? [];
  const only = (allowed: Set<string> | string[], where = path) => {
    const set = allowed instanceof Set ? allowed : new Set(allowed);
    kids.forEach((k, i) => {
      if (!set.has(k.type)) errors.push(`${where}[${i}]: ${k.type} not allowed in ${node.type}`);
    });
  };
  switch (node.type) {
    case 'doc':
      if ((node as { version?: number }).version !== 1) errors.push('doc: version must be 1');
      only(BLOCK);
      break;
    case 'paragraph':
    case 'heading':
      only(INLINE);
      if (node.type === 'heading' && !(Number(node.attrs?.level) >= 1 && Number(node.attrs?.level) <= 6))
        errors.push(`${path}: heading level`);
      break;
    case 'bulletList':
    case 'orderedList':
      if (kids.length === 0) errors.push(`${path}: empty list`);
      only(['listItem']);
      break;
    case 'listItem':
      if (!kids[0] || !['paragraph', 'codeBlock', 'mediaSingle'].includes(kids[0].type))
        errors.push(`${path}: listItem must start with a paragraph`);
      only(['paragraph', 'bulletList', 'orderedList', 'codeBlock', 'mediaSingle']);
      break;
    case 'codeBlock':
      only(['text']);
      for (const k of kids) if (k.marks?.length) errors.push(`${path}: marks inside codeBlock`);
      break;
    case 'blockquote':
      only(['paragraph', 'bulletList', 'orderedList', 'codeBlock']);
      break;
    case 'taskList':
      if (typeof node.attrs?.localId !== 'string') errors.push(`${path}: taskList needs localId`);
      only(['taskItem', 'taskList']);
      break;
    case 'taskItem':
      if (!['TODO', 'DONE'].includes(String(node.attrs?.state))) errors.push(`${path}: taskItem state`);
      only(INLINE);
      break;
    case 'table':
      only(['tableRow']);
      break;
    case 'tableRow':
      only(['tableHeader', 'tableCell']);
      break;
    case 'text': {
      if (!node.text) errors.push(`${path}: empty text node`);
      const types = (node.marks ?? []).map((m) => m.type);
      for (const t of types) if (!MARKS.has(t)) errors.push(`${path}: unknown mark ${t}`);
      if (types.includes('code') && types.some((t) => t !== 'code' && t !== 'link'))
        errors.push(`${path}: code combined with ${types.join(',')}`);
      for (const m of node.marks ?? [])
        if (m.type === 'link' && typeof m.attrs?.href !== 'string') errors.push(`${path}: link without href`);
      break;
    }
  }
  kids.forEach((k, i) => errors.push(...adfErrors(k, `${path}.${k.type}[${i}]`)));
  return errors;
}

/** ADF with the random localIds blanked, for comparisons. */
const stable = (doc: unknown) => JSON.parse(JSON.stringify(doc).replace(/"localId":"[^"]*"/g, '"localId":""'));

describe('markdown -> ADF', () => {
  const body = [
    '## Plan',
    '',
    'Build the **models** with _care_; see [the spec](https://example.com/spec?a=1&b=2).',
    '',
    '- first item',
    '- second with `inline code`',
    '  - nested',
    '',
    '1. one',
    '2. two',
    '',
    '```ts',
    'const answer = 42;',
    'console.log(`${answer}`);',
    '```',
  ].join('\n');

  it('turns a body with a list, a code block and a link into valid ADF', () => {
    const doc = markdownToAdf(body);
    expect(adfErrors(doc)).toEqual([]);
    expect(doc.content.map((n) => n.type)).toEqual(['heading', 'paragraph', 'bulletList', 'orderedList', 'codeBlock']);
    const link = doc.content[1].content!.find((n) => n.marks?.some((m) => m.type === 'link'))!;
    expect(link).toEqual({
      type: 'text',
      text: 'the spec',
      marks: [{ type: 'link', attrs: { href: 'https://example.com/spec?a=1&b=2' } }],
    });
    expect(doc.content[4]).toEqual({
      type: 'codeBlock',
      attrs: { language: 'ts' },
      content: [{ type: 'text', text: 'const answer = 42;\nconsole.log(`${answer}`);' }],
    });
    const nested = doc.content[2].content![1].content!;
    expect(nested.map((n) => n.type)).toEqual(['paragraph', 'bulletList']);
    expect(nested[0].content).toContainEqual({ type: 'text', text: 'inline code', marks: [{ type: 'code' }] });
    expect(doc.content[3].attrs).toEqual({ order: 1 });
  });

  it('reads back as the same markdown', () => {
    expect(adfToMarkdown(markdownToAdf(body))).toBe(body);
  });

  it('keeps nesting, strike, hard breaks, quotes, tables and task lists', () => {
    const md = [
      'Some **bold _both_** and ~~gone~~,',
      'next\\',
      'line',
      '',
      '> quoted',
      '',
      '- [ ] open',
      '- [x] closed',
      '',
      '| a | b |',
      '| --- | --- |',
      '| 1 | 2 |',
      '',
      '3. three',
      '4. four',
      '',
      '---',
    ].join('\n');
    const doc = markdownToAdf(md);
    expect(adfErrors(doc)).toEqual([]);
    expect(adfToMarkdown(doc)).toBe(md);
  });

  it('escapes text that would otherwise read as markup, and only that', () => {
    const doc: AdfNode = {
      type: 'doc',
      content: [
        { type: 'paragraph', content: [{ type: 'text', text: '# not a heading' }] },
        { type: 'paragraph', content: [{ type: 'text', text: 'a *star* and snake_case, 5 * 3, [x](y) and <b>' }] },
        { type: 'paragraph', content: [{ type: 'text', text: '1. not a list' }] },
      ],
    };
    const md = adfToMarkdown(doc);
    expect(md).toBe('\\# not a heading\n\na \\*star\\* and snake_case, 5 * 3, [x\\](y) and \\<b>\n\n1\\. not a list');
    expect(stable(markdownToAdf(md)).content).toEqual(doc.content);
  });

  it('an empty body is an empty document', () => {
    expect(markdownToAdf('')).toEqual({ type: 'doc', version: 1, content: [] });
    expect(adfToMarkdown(null)).toBe('');
  });

  it('ADF -> markdown -> ADF is the identity for generated documents (no echo after a write)', () => {
    const word = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_.,:!?*#[\]()-]{0,7}$/);
    const words = fc.array(word, { minLength: 1, maxLength: 4 }).map((w) => w.join(' '));
    const markSet = fc.constantFrom<string[]>([], ['strong'], ['em'], ['strike'], ['strong', 'em'], ['code'], ['link']);
    const text = fc.tuple(words, markSet).map(([t, marks]) => ({
      type: 'text',
      text: t,
      ...(marks.length
        ? { marks: marks.map((m) => (m === 'link' ? { type: 'link', attrs: { href: 'https://example.com/x' } } : { type: m })) }
        : {}),
    }));
    // Runs separated by a space: markdown cannot say "two marked runs touching" unambiguously.
    const inline = fc
      .array(text, { minLength: 1, maxLength: 4 })
      .map((runs) => runs.flatMap((r, i) => (i ? [{ type: 'text', text: ' ' }, r] : [r])));
    const para = inline.map((content) => ({ type: 'paragraph', content }));
    const item = para.map((p) => ({ type: 'listItem', content: [p] }));
    const block = fc.oneof(
      para,
      fc.tuple(fc.integer({ min: 1, max: 6 }), inline).map(([level, content]) => ({ type: 'heading', attrs: { level }, content })),
      fc.array(item, { minLength: 1, maxLength: 3 }).map((content) => ({ type: 'bulletList', content })),
      fc.array(item, { minLength: 1, maxLength: 3 }).map((content) => ({ type: 'orderedList', attrs: { order: 1 }, content })),
      fc.stringMatching(/^[a-z =;`*_#]{1,20}$/).map((t) => ({ type: 'codeBlock', content: [{ type: 'text', text: t }] })),
    );
    fc.assert(
      fc.property(fc.array(block, { minLength: 1, maxLength: 4 }), (blocks) => {
        // Two lists of one kind in a row are one list in markdown; keep the generator honest.
        for (let i = 1; i < blocks.length; i++) if (blocks[i].type === blocks[i - 1].type && blocks[i].type.endsWith('List')) return;
        const doc = { type: 'doc', version: 1, content: blocks } as AdfNode;
        const md = adfToMarkdown(doc);
        const back = markdownToAdf(md);
        // Every visible character keeps its marks and its place in the block structure...
        expect(shape(back)).toEqual(shape(doc));
        // ...and the markdown is a fixed point, so a write never reads back as a change.
        expect(adfToMarkdown(back)).toBe(md);
      }),
      { numRuns: 300 },
    );
  });
});

/** Block structure plus each non-space character with its marks (spaces may move in or out of a mark). */
function shape(node: AdfNode): unknown {
  if (node.type === 'text') {
    const marks = (node.marks ?? [])
      .map((m) => m.type)
      .sort()
      .join('+');
    return [...(node.text ?? '')].filter((c) => c.trim() !== '').map((c) => `${c}:${marks}`);
  }
  const kids = (node.content ?? []).map(shape);
  const inline = (node.content ?? []).every((k) => k.type === 'text' || k.type === 'hardBreak');
  return { type: node.type, level: node.attrs?.level, content: inline ? kids.flat() : kids };
}

describe('comments', () => {
  it('round-trip markdown -> ADF -> markdown without losing lists, code or links', () => {
    const markdown =
      'Stage: analysis -> development\n\n- checked `lint`\n- see [run 42](https://ci.example.com/runs/42)\n\n```sh\nnpm test\n```';
    const doc = commentToAdf(markdown, 17, 'agent:planner');
    expect(adfErrors(doc)).toEqual([]);
    const read = readCommentBody(doc);
    expect(read).toEqual({ body: markdown, commentId: 17, actor: 'agent:planner' });
  });

  it('a person’s comment carries no marker', () => {
    const read = readCommentBody(markdownToAdf('Looks good, **ship it**'));
    expect(read).toEqual({ body: 'Looks good, **ship it**' });
  });
});
