// A small JQL for the sandbox Jira: the subset Trackline and its tests send, with Jira's rules
// where they matter to a client (trackers.md §4.5):
//  - clauses joined by AND, each `field op value`, `field IN (…)`, `field NOT IN (…)`,
//    `field IS [NOT] EMPTY`; ORDER BY with ASC/DESC (at most 7 fields);
//  - search/jql refuses an unbounded query (no restriction at all);
//  - dates as "yyyy-MM-dd HH:mm", "yyyy/MM/dd HH:mm" or "yyyy-MM-dd", read in the requesting
//    user's time zone, or a number of milliseconds since the epoch;
//  - `issue.property[key].path` works only for a property an app has indexed; otherwise Jira
//    answers that the field does not exist.
// Anything else is a 400 with Jira's "Error in the JQL Query" wording, so an unsupported query
// fails loudly instead of matching the wrong issues.

export class JqlError extends Error {}

export interface JqlSubject {
  id: string;
  key: string;
  number: number;
  projectKey: string;
  projectId: string;
  projectName: string;
  labels: string[];
  statusId: string;
  statusName: string;
  issueTypeId: string;
  issueTypeName: string;
  assignee: string | null;
  priorityName: string;
  summary: string;
  created: number;
  updated: number;
  property(key: string): unknown;
}

export interface JqlContext {
  timeZone: string;
  /** Property keys an app has declared an index for (issue.property[key] searchable). */
  indexedProperties: ReadonlySet<string>;
  now?: () => number;
}

type Value = string;
interface Clause {
  field: string;
  op: '=' | '!=' | '>=' | '<=' | '>' | '<' | '~' | 'in' | 'not in' | 'is empty' | 'is not empty';
  values: Value[];
}
interface Sort {
  field: string;
  desc: boolean;
}
export interface ParsedJql {
  clauses: Clause[];
  orderBy: Sort[];
}

// ------------------------------------------------------------------------------ tokens

type Tok = { kind: 'word' | 'string' | 'op' | 'punct'; text: string };

function tokenize(jql: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  while (i < jql.length) {
    const c = jql[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      let s = '';
      i++;
      while (i < jql.length && jql[i] !== c) {
        if (jql[i] === '\\' && i + 1 < jql.length) i++;
        s += jql[i++];
      }
      if (i >= jql.length) throw new JqlError(`Error in the JQL Query: The quoted string '${s}' has not been completed.`);
      i++;
      out.push({ kind: 'string', text: s });
    } else if (c === '(' || c === ')' || c === ',') {
      out.push({ kind: 'punct', text: c });
      i++;
    } else if ('=!<>~'.includes(c)) {
      const two = jql.slice(i, i + 2);
      if (['!=', '>=', '<=', '!~'].includes(two)) {
        out.push({ kind: 'op', text: two });
        i += 2;
      } else {
        out.push({ kind: 'op', text: c });
        i++;
      }
    } else {
      let s = '';
      // A word runs to whitespace, an operator or punctuation; brackets belong to issue.property[x].
      while (i < jql.length && !/\s/.test(jql[i]) && !'=!<>~(),"\''.includes(jql[i])) s += jql[i++];
      out.push({ kind: 'word', text: s });
    }
  }
  return out;
}

export function parseJql(jql: string): ParsedJql {
  const toks = tokenize(jql);
  let p = 0;
  const peek = () => toks[p];
  const isWord = (t: Tok | undefined, w: string) => t?.kind === 'word' && t.text.toLowerCase() === w;
  const clauses: Clause[] = [];
  const orderBy: Sort[] = [];
  const value = (): Value => {
    const t = toks[p++];
    if (!t || (t.kind !== 'word' && t.kind !== 'string'))
      throw new JqlError(`Error in the JQL Query: Expecting either a value, list or function but got '${t?.text ?? 'end of query'}'.`);
    return t.text;
  };
  const list = (): Value[] => {
    if (peek()?.text !== '(') throw new JqlError("Error in the JQL Query: Expecting '(' after IN.");
    p++;
    const values: Value[] = [];
    for (;;) {
      values.push(value());
      const t = toks[p++];
      if (t?.text === ')') break;
      if (t?.text !== ',') throw new JqlError("Error in the JQL Query: Expecting ',' or ')'.");
    }
    return values;
  };
  while (p < toks.length && !isWord(peek(), 'order')) {
    if (clauses.length) {
      const joiner = toks[p++];
      if (isWord(joiner, 'or')) throw new JqlError('Error in the JQL Query: OR is not supported by the sandbox.');
      if (!isWord(joiner, 'and')) throw new JqlError(`Error in the JQL Query: Expecting operator but got '${joiner?.text}'.`);
    }
    const fieldTok = toks[p++];
    if (!fieldTok || fieldTok.kind === 'punct' || fieldTok.kind === 'op')
      throw new JqlError(`Error in the JQL Query: Expecting a field name but got '${fieldTok?.text ?? 'end of query'}'.`);
    const field = fieldTok.text;
    const opTok = toks[p++];
    if (!opTok) throw new JqlError(`Error in the JQL Query: Expecting operator after '${field}'.`);
    if (opTok.kind === 'op') {
      const op = opTok.text as Clause['op'];
      if (op === ('!~' as string)) throw new JqlError('Error in the JQL Query: !~ is not supported by the sandbox.');
      clauses.push({ field, op, values: [value()] });
    } else if (isWord(opTok, 'in')) {
      clauses.push({ field, op: 'in', values: list() });
    } else if (isWord(opTok, 'not') && isWord(peek(), 'in')) {
      p++;
      clauses.push({ field, op: 'not in', values: list() });
    } else if (isWord(opTok, 'is')) {
      const not = isWord(peek(), 'not');
      if (not) p++;
      const t = toks[p++];
      if (!isWord(t, 'empty') && !isWord(t, 'null')) throw new JqlError('Error in the JQL Query: Expecting EMPTY after IS.');
      clauses.push({ field, op: not ? 'is not empty' : 'is empty', values: [] });
    } else {
      throw new JqlError(`Error in the JQL Query: Expecting operator but got '${opTok.text}'.`);
    }
  }
  if (isWord(peek(), 'order')) {
    p++;
    if (!isWord(toks[p++], 'by')) throw new JqlError("Error in the JQL Query: Expecting 'by' after 'order'.");
    for (;;) {
      const f = toks[p++];
      if (!f || f.kind !== 'word') throw new JqlError('Error in the JQL Query: Expecting a field name in ORDER BY.');
      let desc = false;
      if (isWord(peek(), 'asc')) p++;
      else if (isWord(peek(), 'desc')) {
        desc = true;
        p++;
      }
      orderBy.push({ field: f.text.toLowerCase(), desc });
      if (peek()?.text !== ',') break;
      p++;
    }
    if (orderBy.length > 7) throw new JqlError('Error in the JQL Query: ORDER BY supports at most 7 fields.');
  }
  if (p < toks.length) throw new JqlError(`Error in the JQL Query: Unexpected '${toks[p].text}'.`);
  return { clauses, orderBy };
}

// ------------------------------------------------------------------------------ evaluation

const PROPERTY = /^issue\.property\[([^\]]+)\]\.(.+)$/i;

export interface CompiledJql {
  match(s: JqlSubject): boolean;
  compare(a: JqlSubject, b: JqlSubject): number;
}

export function compileJql(jql: string, ctx: JqlContext, { requireBounded = true } = {}): CompiledJql {
  const parsed = parseJql(jql);
  if (requireBounded && parsed.clauses.length === 0) {
    throw new JqlError('Unbounded JQL queries are not allowed here. Please add a search restriction to your query.');
  }
  const tests = parsed.clauses.map((c) => clauseTest(c, ctx));
  const sorts = parsed.orderBy.map((s) => sortKey(s, ctx));
  return {
    match: (s) => tests.every((t) => t(s)),
    compare: (a, b) => {
      for (const { key, desc } of sorts) {
        const x = key(a);
        const y = key(b);
        if (x < y) return desc ? 1 : -1;
        if (x > y) return desc ? -1 : 1;
      }
      // Jira's default order for equal sort keys is not documented; key order is stable.
      return a.projectKey === b.projectKey ? a.number - b.number : a.projectKey < b.projectKey ? -1 : 1;
    },
  };
}

const ci = (s: string) => s.toLowerCase();

function clauseTest(c: Clause, ctx: JqlContext): (s: JqlSubject) => boolean {
  const field = ci(c.field);
  const prop = PROPERTY.exec(c.field);
  if (prop) {
    const [, key, path] = prop;
    if (!ctx.indexedProperties.has(key)) throw new JqlError(`Field '${c.field}' does not exist or you do not have permission to view it.`);
    return stringTest(c, (s) => {
      let v = s.property(key) as unknown;
      for (const part of path.split('.')) v = v && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
      return v === undefined || v === null ? [] : [String(v)];
    });
  }
  switch (field) {
    case 'project':
      return stringTest(c, (s) => [s.projectKey, s.projectId, s.projectName]);
    case 'key':
    case 'issuekey':
      return stringTest(c, (s) => [s.key]);
    case 'id':
      return stringTest(c, (s) => [s.id], true);
    case 'labels':
      return stringTest(c, (s) => s.labels);
    case 'status':
      return stringTest(c, (s) => [s.statusName, s.statusId]);
    case 'issuetype':
    case 'type':
      return stringTest(c, (s) => [s.issueTypeName, s.issueTypeId]);
    case 'assignee':
      return stringTest(c, (s) => (s.assignee ? [s.assignee] : []));
    case 'priority':
      return stringTest(c, (s) => [s.priorityName]);
    case 'summary':
    case 'text':
      if (c.op !== '~') throw new JqlError(`Error in the JQL Query: The operator '${c.op}' is not supported by the '${c.field}' field.`);
      return (s) => s.summary.toLowerCase().includes(c.values[0].toLowerCase());
    case 'updated':
    case 'updateddate':
    case 'created':
    case 'createddate': {
      const get = field.startsWith('updated') ? (s: JqlSubject) => s.updated : (s: JqlSubject) => s.created;
      const at = c.values.map((v) => parseJqlDate(v, ctx));
      switch (c.op) {
        case '>=':
          return (s) => get(s) >= at[0];
        case '>':
          return (s) => get(s) > at[0];
        case '<=':
          return (s) => get(s) <= at[0];
        case '<':
          return (s) => get(s) < at[0];
        case '=':
          return (s) => get(s) === at[0];
        case '!=':
          return (s) => get(s) !== at[0];
        default:
          throw new JqlError(`Error in the JQL Query: The operator '${c.op}' is not supported by the '${c.field}' field.`);
      }
    }
    default:
      throw new JqlError(`Field '${c.field}' does not exist or you do not have permission to view it.`);
  }
}

function stringTest(c: Clause, values: (s: JqlSubject) => string[], exact = false): (s: JqlSubject) => boolean {
  const norm = exact ? (v: string) => v : ci;
  const wanted = c.values.map(norm);
  switch (c.op) {
    case '=':
      return (s) => values(s).some((v) => norm(v) === wanted[0]);
    case '!=':
      return (s) => !values(s).some((v) => norm(v) === wanted[0]);
    case 'in':
      return (s) => values(s).some((v) => wanted.includes(norm(v)));
    case 'not in':
      return (s) => !values(s).some((v) => wanted.includes(norm(v)));
    case 'is empty':
      return (s) => values(s).length === 0;
    case 'is not empty':
      return (s) => values(s).length > 0;
    default:
      throw new JqlError(`Error in the JQL Query: The operator '${c.op}' is not supported by the '${c.field}' field.`);
  }
}

function sortKey(s: Sort, _ctx: JqlContext): { key: (x: JqlSubject) => string | number; desc: boolean } {
  switch (s.field) {
    case 'updated':
    case 'updateddate':
      return { key: (x) => x.updated, desc: s.desc };
    case 'created':
    case 'createddate':
      return { key: (x) => x.created, desc: s.desc };
    case 'key':
    case 'issuekey':
      // Keys sort by project, then by number (ET-10 after ET-9), as Jira does.
      return { key: (x) => `${x.projectKey}-${String(x.number).padStart(12, '0')}`, desc: s.desc };
    case 'id':
      return { key: (x) => Number(x.id), desc: s.desc };
    case 'summary':
      return { key: (x) => x.summary.toLowerCase(), desc: s.desc };
    case 'status':
      return { key: (x) => x.statusName.toLowerCase(), desc: s.desc };
    default:
      throw new JqlError(`Error in the JQL Query: Field '${s.field}' cannot be used in ORDER BY in the sandbox.`);
  }
}

/** A JQL date value as epoch ms: formats read in the user's zone, or epoch milliseconds. */
export function parseJqlDate(value: string, ctx: JqlContext): number {
  const v = value.trim();
  if (/^-?\d+$/.test(v)) return Number(v);
  const m = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?:\s+(\d{1,2}):(\d{2}))?$/.exec(v);
  if (!m) {
    throw new JqlError(
      `Date value '${value}' for field 'updated' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'.`,
    );
  }
  const [, y, mo, d, h = '0', mi = '0'] = m;
  return zonedToEpoch(Number(y), Number(mo), Number(d), Number(h), Number(mi), ctx.timeZone);
}

function offsetAt(ms: number, timeZone: string): number {
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: 'numeric',
    day: 'numeric',
    hour: 'numeric',
    minute: 'numeric',
    second: 'numeric',
  }).formatToParts(new Date(ms));
  const get = (t: string) => Number(parts.find((p) => p.type === t)?.value);
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour') % 24, get('minute'), get('second'));
  return local - Math.floor(ms / 1000) * 1000;
}

/**
 * A wall-clock time in a zone as epoch ms. Where a local time happens twice (the hour repeated
 * when clocks go back) the earlier instant is taken, as java.time's ZonedDateTime.of does.
 */
export function zonedToEpoch(y: number, mo: number, d: number, h: number, mi: number, timeZone: string): number {
  const wall = Date.UTC(y, mo - 1, d, h, mi);
  const candidates = new Set<number>();
  for (const probe of [wall - 86_400_000, wall, wall + 86_400_000]) candidates.add(wall - offsetAt(probe, timeZone));
  const exact = [...candidates].filter((c) => c + offsetAt(c, timeZone) === wall).sort((a, b) => a - b);
  if (exact.length) return exact[0];
  // In a gap (clocks went forward) java.time moves the time forward by the gap's length.
  return wall - offsetAt(wall - 86_400_000, timeZone);
}
