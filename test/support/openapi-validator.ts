/**
 * Validates HTTP requests made by the tracker adapters against each tracker's official OpenAPI
 * description, so tests can enforce "every request the adapter makes validates against the spec".
 *
 * Why plain Ajv and not openapi-backend's `validateRequest`: tried first, openapi-backend gets these
 * specs wrong. It strips trailing slashes before routing, so none of Plane's `.../issues/` routes
 * match. It compiles query parameters with `additionalProperties: false`, which rejects query
 * parameters the spec does not list (Plane's `?external_id=`). It enforces `required` on readOnly
 * properties, so a correct Plane create is rejected for lacking `created_at`. It registers no
 * `uuid`/`date` formats, so those are skipped without a word. And it throws "Unknown operation"
 * on a wrong method instead of reporting it. Routing and parameter parsing are simple enough to
 * write here, and Ajv then validates schemas the way OpenAPI 3.0 means them (see
 * `prepareSchemasForRequests`).
 *
 * Usage:
 *   const plane = await loadSpecValidator('plane');
 *   plane.assertAll(recordedRequests); // throws one Error listing every invalid request
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import AjvModule from 'ajv';
import type { ErrorObject, ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parse as parseYaml } from 'yaml';

// ajv and ajv-formats are CommonJS with `exports.default`. Under NodeNext the default import is
// `module.exports` (typed as the whole module), so the class and the plugin are on `.default`.
const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;

export type SpecName = 'plane' | 'jira' | 'github';

export interface RequestToValidate {
  method: string;
  /** Absolute URL, or a path with an optional query string. */
  url: string;
  headers?: Record<string, string>;
  /** A parsed JSON value, or the raw JSON text (string / Uint8Array) as sent on the wire. */
  body?: unknown;
}

export interface ValidationResult {
  ok: boolean;
  /** operationId of the matched operation (set when path and method matched). */
  operationId?: string;
  /** Spec path template that matched, e.g. `/repos/{owner}/{repo}/issues`. */
  pathTemplate?: string;
  /**
   * True when the spec does not cover this request at all (GitHub GraphQL). `ok` is then false
   * and `errors` explains it. The caller decides what to do with it (see `assertAll` options).
   */
  notCovered?: boolean;
  errors: string[];
}

export interface AssertAllOptions {
  /** Do not fail on requests the spec does not cover (e.g. `POST /graphql` for GitHub). Default false. */
  allowNotCovered?: boolean;
}

export interface SpecValidator {
  readonly name: SpecName;
  /** Milliseconds spent reading, parsing and preparing the spec (schemas compile later, per operation). */
  readonly loadMs: number;
  validate(req: RequestToValidate): ValidationResult;
  /** Throws one Error listing every invalid request with its errors. */
  assertAll(reqs: RequestToValidate[], opts?: AssertAllOptions): void;
}

// ---------------------------------------------------------------------------------------------
// Per-tracker settings
// ---------------------------------------------------------------------------------------------

// The vendors' specs live in the project's shared/ folder, beside the checkout (as CI lays it out).
const SPEC_DIR = process.env.TRACKLINE_SPEC_DIR ?? fileURLToPath(new URL('../../../shared/specs', import.meta.url));

interface Profile {
  /** Absolute path of the spec file. */
  file(): string;
  format: 'yaml' | 'json';
  /**
   * Maps a request's URL pathname to a key of the spec's `paths`. Deployment prefixes differ per
   * tracker and are not all in `servers`, so each tracker maps them itself.
   */
  toSpecPath(pathname: string): string;
  /** Returns a reason when the spec does not describe this API at all. */
  notCovered?(specPath: string): string | undefined;
  /** Fixes for defects in this tracker's spec, applied before the generic rewrites. */
  patchSpec?(doc: Json): void;
  /**
   * Whether a readOnly property in a request body is an error. See `prepareSchemasForRequests`
   * for why this is per tracker.
   */
  forbidReadOnlyInRequests: boolean;
}

const PROFILES: Record<SpecName, Profile> = {
  plane: {
    file: () => `${SPEC_DIR}/plane-v1-2025-05.openapi.yaml`,
    format: 'yaml',
    toSpecPath(pathname) {
      // The Plane spec has no `servers` entry, but its paths are relative to `/api/v1`. Drop
      // everything up to and including `/api/v1`, which also covers self-hosted installs under a
      // sub-path. A path without the prefix is taken as already relative.
      const at = pathname.indexOf('/api/v1/');
      let path = at >= 0 ? pathname.slice(at + '/api/v1'.length) : pathname;
      // The spec documents the old `issues/` routes. Plane's newer `work-items/` routes are the same
      // endpoints, so rewrite the segment, but only where the route puts it, so that a workspace
      // slug that happens to be "work-items" stays as it is:
      //   /workspaces/{slug}/work-items/...                  (segment 3; includes {IDENT}-{seq}/)
      //   /workspaces/{slug}/projects/{project_id}/work-items/...          (segment 5)
      const seg = path.split('/');
      if (seg[1] === 'workspaces') {
        if (seg[3] === 'work-items') seg[3] = 'issues';
        else if (seg[3] === 'projects' && seg[5] === 'work-items') seg[5] = 'issues';
        path = seg.join('/');
      }
      return path;
    },
    patchSpec(doc) {
      // Defect: drf-spectacular described the bodies of the membership posts from the serializer
      // class (`CycleIssue`, `ModuleIssue`: one `issue`), but the views read
      // `request.data.get("issues", [])` and answer 400 "Issues are required" without it; Plane's
      // docs say the same (developers.plane.so, "Add work items to cycle": body `issues`, required
      // array of work item ids). On the wire it is `{"issues": [uuid, ...]}`.
      const membership = {
        type: 'object',
        required: ['issues'],
        properties: { issues: { type: 'array', minItems: 1, items: { type: 'string', format: 'uuid' } } },
      };
      for (const path of [
        '/workspaces/{slug}/projects/{project_id}/cycles/{cycle_id}/cycle-issues/',
        '/workspaces/{slug}/projects/{project_id}/modules/{module_id}/module-issues/',
      ]) {
        const post = doc.paths[path]?.post;
        if (post?.requestBody?.content) for (const media of Object.values(post.requestBody.content) as Json[]) media.schema = membership;
      }
    },
    // Plane's readOnly flags are generated (drf-spectacular) from DRF `read_only=True` serializer
    // fields. Those are exactly what the server ignores on input, so such a field in a request
    // is an adapter bug.
    forbidReadOnlyInRequests: true,
  },
  jira: {
    file: () => `${SPEC_DIR}/jira-platform-v3.openapi.json`,
    format: 'json',
    toSpecPath(pathname) {
      // The spec's paths carry the full `/rest/...` prefix, and `servers` is only the site origin.
      // OAuth 2.0 apps call `https://api.atlassian.com/ex/jira/{cloudId}/rest/api/3/...`, so drop
      // whatever comes before `/rest/`.
      const at = pathname.indexOf('/rest/');
      return at >= 0 ? pathname.slice(at) : pathname;
    },
    patchSpec(doc) {
      // Quirk: `JsonNode` is Jackson's "any JSON value" type. The generator described it as a Java
      // bean (`{array: boolean, bigDecimal: boolean, ..., additionalProperties: false}`), so every
      // real property value in the bulk issue-property bodies (IssueEntityProperties,
      // IssueEntityPropertiesForMultiUpdate) would be rejected. On the wire it is any JSON value.
      if (doc.components.schemas.JsonNode) {
        doc.components.schemas.JsonNode = { description: 'Any JSON value (Jackson JsonNode); see openapi-validator.ts' };
      }
    },
    // Jira's readOnly flags are written by hand and sit on identifiers that clients really do send
    // as references inside request bodies (e.g. IssueTypeDetails.id, ProjectDetails.key,
    // ProjectComponent.id are all readOnly). Making them errors would give false failures: 6 of the
    // spec's own request examples would fail, e.g. `PUT /version/{id}/relatedwork` must send its
    // readOnly `relatedWorkId`. So for Jira readOnly only lifts `required`
    // (see prepareSchemasForRequests).
    forbidReadOnlyInRequests: false,
  },
  github: {
    file: () => createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json'),
    format: 'json',
    toSpecPath(pathname) {
      // api.github.com has no prefix. GitHub Enterprise Server serves the same REST API under
      // `/api/v3`.
      return pathname.startsWith('/api/v3/') ? pathname.slice('/api/v3'.length) : pathname;
    },
    notCovered(specPath) {
      // GraphQL (`POST /graphql`, or `/api/graphql` on GHES) is a different API, and this REST
      // description does not cover it.
      if (specPath === '/graphql' || specPath === '/api/graphql') {
        return 'not covered: GitHub GraphQL is not described by the REST OpenAPI description';
      }
      return undefined;
    },
    // No readOnly property is reachable from any GitHub request body, so this changes nothing
    // there. It stays on so that one added later is caught.
    forbidReadOnlyInRequests: true,
  },
};

const skippedSpecs = new Set<SpecName>();

/**
 * Why a vendor spec cannot be checked against here, or null. The Plane and Jira specs live beside
 * the checkout (../shared/specs, or TRACKLINE_SPEC_DIR), not in it, so a clone elsewhere has none:
 * their tests are then skipped with one line saying so (`it.skipIf(specMissing('jira'))`), except
 * under CI, where a missing spec fails them. GitHub's comes from @octokit/openapi and is always here.
 */
export function specMissing(name: SpecName): string | null {
  if (process.env.CI) return null;
  const file = PROFILES[name].file();
  if (existsSync(file)) return null;
  if (!skippedSpecs.has(name)) {
    skippedSpecs.add(name);
    console.warn(`openapi: ${file} not found (set TRACKLINE_SPEC_DIR to the vendors' specs); the ${name} request checks are skipped`);
  }
  return `${file} not found`;
}

// ---------------------------------------------------------------------------------------------
// Loading (cached per process)
// ---------------------------------------------------------------------------------------------

const cache = new Map<SpecName, Promise<SpecValidator>>();

export function loadSpecValidator(name: SpecName): Promise<SpecValidator> {
  let pending = cache.get(name);
  if (!pending) {
    pending = buildValidator(name);
    // Do not cache a failure (e.g. a missing file); the next caller gets a fresh attempt.
    pending.catch(() => cache.delete(name));
    cache.set(name, pending);
  }
  return pending;
}

// The specs are plain JSON documents of a shape too large to type usefully; fields are checked
// where they are read.
type Json = any;

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

async function buildValidator(name: SpecName): Promise<SpecValidator> {
  const profile = PROFILES[name];
  const started = performance.now();
  const text = await readFile(profile.file(), 'utf8');
  const full: Json = profile.format === 'yaml' ? parseYaml(text) : JSON.parse(text);

  // Keep only what request validation reads. GitHub's description is 13 MB, mostly response
  // schemas, examples and headers. `ajv.addSchema` walks every key of the document it is given
  // (looking for `$id`s), so a smaller document loads faster.
  const doc: Json = {
    components: {
      schemas: full.components?.schemas ?? {},
      parameters: full.components?.parameters ?? {},
      requestBodies: full.components?.requestBodies ?? {},
    },
    paths: {},
  };
  for (const [template, item] of Object.entries<Json>(full.paths ?? {})) {
    const slim: Json = {};
    if (item.parameters) slim.parameters = item.parameters;
    for (const m of HTTP_METHODS) {
      const op = item[m];
      if (op) slim[m] = { operationId: op.operationId, parameters: op.parameters, requestBody: op.requestBody };
    }
    doc.paths[template] = slim;
  }

  profile.patchSpec?.(doc);
  prepareSchemasForRequests(doc, profile.forbidReadOnlyInRequests);
  const routes = buildRoutes(doc);

  const docId = `https://trackline.invalid/openapi/${name}.json`;
  // Two Ajv instances: bodies are validated as-is, while path/query/header values arrive as
  // strings and need coercion to the declared type ("100" → 100 for an integer `per_page`).
  const bodyAjv = makeAjv(docId, doc, false);
  const paramAjv = makeAjv(docId, doc, true);

  const validator = new Validator(name, profile, doc, docId, routes, bodyAjv, paramAjv);
  validator.loadMs = Math.round(performance.now() - started);
  return validator;
}

/** Marker keyword for readOnly properties in request bodies; registered with Ajv to fail. */
const READONLY_KW = 'x-trackline-readonly-in-request';
/** Markers that let error formatting leave out the noise from the `nullable` rewrite. */
const NULL_BRANCH_KW = 'x-trackline-null-branch';
const NULLABLE_WRAPPER_KW = 'x-trackline-nullable';

function makeAjv(docId: string, doc: Json, coerce: boolean) {
  const ajv = new Ajv({
    // The specs use many keywords that are not JSON Schema (`example`, `xml`, `discriminator`,
    // `x-*`). Strict mode would refuse to compile them, so unknown keywords are ignored.
    strict: false,
    allErrors: true,
    // `parentSchema` lets formatErrors recognise the `nullable` rewrite.
    verbose: true,
    // Do not check the 13 MB document against the JSON Schema meta-schema. Its top level is an
    // OpenAPI document, not a schema.
    validateSchema: false,
    coerceTypes: coerce,
  });
  // uuid, date, date-time, uri, uri-template, email, url, plus the OpenAPI formats int32, int64,
  // float, double, byte, binary, password. That is every format the three specs use except
  // `repo.nwo` below, so no format check is skipped because Ajv does not know the format.
  addFormats(ajv);
  // GitHub-only format (pulls `head_repo`, "name with owner"). GitHub does not define it, so it
  // only has to be a string. Any other unknown format still gets Ajv's console warning, so that
  // a new one is noticed.
  ajv.addFormat('repo.nwo', true);
  ajv.addKeyword({
    keyword: READONLY_KW,
    schemaType: 'boolean',
    errors: true,
    // The keyword sits on the property's own schema, so it only runs when the property is there.
    validate: function readOnlyInRequest(this: unknown, schema: boolean) {
      (readOnlyInRequest as unknown as { errors: Partial<ErrorObject>[] }).errors = [
        { keyword: 'readOnly', message: 'is readOnly in the spec and must not be sent in a request', params: {} },
      ];
      return !schema;
    },
  });
  ajv.addSchema(doc, docId);
  return ajv;
}

// ---------------------------------------------------------------------------------------------
// Schema fixes: make OpenAPI 3.0 schemas mean in JSON Schema what they mean in OpenAPI
// ---------------------------------------------------------------------------------------------

/**
 * Rewrites, in place, every schema a request can reach (component schemas, parameter schemas,
 * request body schemas) so that Ajv's JSON Schema draft-07 semantics match the OpenAPI 3.0
 * meaning of the spec.
 */
function prepareSchemasForRequests(doc: Json, forbidReadOnly: boolean): void {
  const seen = new WeakSet<object>();

  const resolve = (ref: string): Json => {
    if (!ref.startsWith('#/')) return undefined;
    let node: Json = doc;
    for (const raw of ref.slice(2).split('/')) {
      node = node?.[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
    }
    return node;
  };

  // Property names declared anywhere in a composition (following $ref, allOf/anyOf/oneOf).
  const propertyNames = (schema: Json, acc: Set<string>, guard: Set<object>): void => {
    if (!schema || typeof schema !== 'object' || guard.has(schema)) return;
    guard.add(schema);
    if (typeof schema.$ref === 'string') propertyNames(resolve(schema.$ref), acc, guard);
    for (const k of Object.keys(schema.properties ?? {})) acc.add(k);
    for (const kw of ['allOf', 'anyOf', 'oneOf']) {
      for (const sub of schema[kw] ?? []) propertyNames(sub, acc, guard);
    }
  };

  const visit = (schema: Json): void => {
    if (!schema || typeof schema !== 'object' || Array.isArray(schema) || seen.has(schema)) return;
    seen.add(schema);

    // Quirk (Plane, Jira): request bodies reuse the response schema, whose `required` lists
    // readOnly properties (Plane's Issue requires id, created_at, project, workspace ...; its
    // IssueComment requires id, issue, created_by ...). OpenAPI 3.0 says `required` on a readOnly
    // property applies to responses only, so take them out of `required` here.
    // Optionally, a readOnly property that is present becomes an error (see Profile).
    if (schema.properties && typeof schema.properties === 'object') {
      const readOnly = Object.keys(schema.properties).filter((k) => schema.properties[k]?.readOnly === true);
      if (readOnly.length) {
        if (Array.isArray(schema.required)) {
          schema.required = schema.required.filter((k: string) => !readOnly.includes(k));
          if (schema.required.length === 0) delete schema.required;
        }
        if (forbidReadOnly) for (const k of readOnly) schema.properties[k][READONLY_KW] = true;
      }
    }

    // Quirk (Jira CustomFieldContextDefaultValue, CustomContextVariable): `additionalProperties:
    // false` next to a oneOf/anyOf/allOf whose branches declare the real properties. In JSON
    // Schema, additionalProperties only sees the `properties` next to it, so every body with a
    // branch property would fail. What the authors meant is "no properties outside the branches",
    // so the branch property names are added here as unconstrained entries. The branches still
    // check their types. GitHub's oneOf-with-additionalProperties bodies list every property at
    // the top already, so they are unchanged.
    if (schema.additionalProperties === false && (schema.oneOf || schema.anyOf || schema.allOf)) {
      const names = new Set<string>();
      for (const kw of ['allOf', 'anyOf', 'oneOf']) {
        for (const sub of schema[kw] ?? []) propertyNames(sub, names, new Set());
      }
      schema.properties ??= {};
      for (const n of names) if (!(n in schema.properties)) schema.properties[n] = {};
    }

    // Quirk (Jira IssueBulkMovePayload): `required: ['targetToMultipleSourceMapping']` next to
    // `additionalProperties: false` and no such property (it is called `targetToSourcesMapping`).
    // No body can satisfy both, so a required name that the schema does not allow is dropped.
    // This only removes requirements that could never be met.
    if (schema.additionalProperties === false && Array.isArray(schema.required)) {
      const patterns = Object.keys(schema.patternProperties ?? {}).map((p) => new RegExp(p, 'u'));
      schema.required = schema.required.filter(
        (k: string) => (schema.properties && k in schema.properties) || patterns.some((re) => re.test(k)),
      );
      if (schema.required.length === 0) delete schema.required;
    }

    // Quirk (Jira): `discriminator` with a `mapping` on top of oneOf/anyOf. JSON Schema does not
    // know the discriminator, and plain `oneOf` fails whenever a value fits more than one branch
    // (Jira's branches are loose objects, so they overlap). Dispatch on the discriminator value
    // instead: a mapped value must match its mapped schema. An unmapped value must match one of
    // the branches (anyOf, because the discriminator and not exclusivity picks the branch).
    if (schema.discriminator && typeof schema.discriminator === 'object') {
      const { propertyName, mapping } = schema.discriminator;
      const key = schema.oneOf ? 'oneOf' : schema.anyOf ? 'anyOf' : undefined;
      if (key && mapping && typeof propertyName === 'string') {
        const branches = schema[key];
        const values = Object.keys(mapping);
        schema.allOf = [
          ...(schema.allOf ?? []),
          ...Object.entries<string>(mapping).map(([value, ref]) => ({
            if: { properties: { [propertyName]: { const: value } }, required: [propertyName] },
            then: { $ref: ref },
          })),
          { if: { properties: { [propertyName]: { enum: values } }, required: [propertyName] }, else: { anyOf: branches } },
        ];
        delete schema[key];
      }
      delete schema.discriminator;
    }

    // Recurse into the subschemas before the nullable rewrite below, which moves keys around.
    for (const kw of ['properties', 'patternProperties']) {
      if (schema[kw] && typeof schema[kw] === 'object') for (const sub of Object.values(schema[kw])) visit(sub);
    }
    for (const kw of ['additionalProperties', 'items', 'not', 'if', 'then', 'else']) {
      if (Array.isArray(schema[kw])) schema[kw].forEach(visit);
      else visit(schema[kw]);
    }
    for (const kw of ['allOf', 'anyOf', 'oneOf']) if (Array.isArray(schema[kw])) schema[kw].forEach(visit);

    // Quirk (all three): OpenAPI 3.0 `nullable: true`. Ajv does support `nullable`, but only next
    // to `type`, and it throws when it sees `nullable` without `type`. Plane has 16 of those
    // (`oneOf: [PriorityEnum, BlankEnum, NullEnum], nullable`) and GitHub 128 (e.g. the issue
    // `milestone: {oneOf: [string, integer], nullable: true}`). Ajv's version also leaves `enum`
    // alone, so GitHub's `state_reason: {enum: [...], nullable: true}` would still reject null.
    // The 3.0.3 wording would allow null in neither case, but the APIs do take null there
    // (`milestone: null` removes the milestone). So follow what the authors meant: null is
    // allowed.
    if (schema.nullable === true) {
      delete schema.nullable;
      const composite = ['$ref', 'allOf', 'anyOf', 'oneOf', 'not'].some((k) => k in schema);
      if (typeof schema.type === 'string' && !composite) {
        schema.type = [schema.type, 'null'];
        if (Array.isArray(schema.enum) && !schema.enum.includes(null)) schema.enum = [...schema.enum, null];
      } else {
        // Wrap in place, because `$ref`s point at this object. The readOnly marker stays on the
        // outside so that `null` cannot get around it.
        const inner: Json = { ...schema };
        delete inner[READONLY_KW];
        for (const k of Object.keys(schema)) if (k !== READONLY_KW && k !== 'readOnly') delete schema[k];
        schema[NULLABLE_WRAPPER_KW] = true;
        schema.anyOf = [{ type: 'null', [NULL_BRANCH_KW]: true }, inner];
      }
    }
  };

  const visitMedia = (content: Json) => {
    for (const media of Object.values<Json>(content ?? {})) visit(media?.schema);
  };
  for (const s of Object.values(doc.components.schemas)) visit(s);
  for (const p of Object.values<Json>(doc.components.parameters)) visit(p?.schema);
  for (const rb of Object.values<Json>(doc.components.requestBodies)) visitMedia(rb?.content);
  for (const item of Object.values<Json>(doc.paths)) {
    for (const p of item.parameters ?? []) visit(p?.schema);
    for (const m of HTTP_METHODS) {
      const op = item[m];
      if (!op) continue;
      for (const p of op.parameters ?? []) visit(p?.schema);
      visitMedia(op.requestBody?.content);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

interface Route {
  template: string;
  regex: RegExp;
  paramNames: string[];
  /** Per segment: 2 = literal, 1 = literal with params (`{a}-{b}`), 0 = just a param. */
  rank: number[];
  item: Json;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function buildRoutes(doc: Json): Route[] {
  return Object.entries<Json>(doc.paths).map(([template, item]) => {
    const paramNames: string[] = [];
    const rank: number[] = [];
    const segments = template.split('/').map((segment) => {
      // "literal{param}literal{param}..." → alternating pieces, params at odd indexes.
      const pieces = segment.split(/\{([^}]+)\}/);
      if (pieces.length === 1) {
        rank.push(2);
        return escapeRegex(segment);
      }
      rank.push(pieces.length === 3 && pieces[0] === '' && pieces[2] === '' ? 0 : 1);
      return pieces
        .map((piece, i) => {
          if (i % 2 === 0) return escapeRegex(piece);
          paramNames.push(piece);
          // Several params in one segment (Plane's `{project__identifier}-{issue__identifier}`):
          // the earlier ones are lazy so that `ET-12` splits at the first separator.
          const followedByLiteral = (pieces[i + 1] ?? '') !== '';
          return followedByLiteral ? '([^/]+?)' : '([^/]+)';
        })
        .join('');
    });
    return { template, regex: new RegExp(`^${segments.join('/')}$`), paramNames, rank, item };
  });
}

/** OpenAPI: concrete paths win over templated ones. Compared segment by segment. */
function bySpecificity(a: Route, b: Route): number {
  for (let i = 0; i < Math.min(a.rank.length, b.rank.length); i++) {
    if (a.rank[i] !== b.rank[i]) return b.rank[i] - a.rank[i];
  }
  return 0;
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

interface ParamSpec {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required: boolean;
  explode: boolean;
  isArray: boolean;
  /** JSON pointer (inside the prepared document) of the parameter's schema, if it has one. */
  schemaPointer?: string;
}

interface OperationInfo {
  key: string;
  operationId: string;
  template: string;
  method: string;
  params: ParamSpec[];
  paramValidator: ValidateFunction;
  requestBody?: Json;
  requestBodyPointer?: string;
  bodyValidators: Map<string, ValidateFunction>;
}

function pointer(...parts: string[]): string {
  // JSON pointer escaping, then URI-encoding because Ajv reads the pointer as a URI fragment
  // (templates contain `{` and `}`).
  return '/' + parts.map((p) => encodeURIComponent(p.replace(/~/g, '~0').replace(/\//g, '~1'))).join('/');
}

function refPointer(ref: string): string {
  return pointer(
    ...ref
      .slice(2)
      .split('/')
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')),
  );
}

class Validator implements SpecValidator {
  loadMs = 0;
  private operations = new Map<string, OperationInfo>();

  constructor(
    readonly name: SpecName,
    private readonly profile: Profile,
    private readonly doc: Json,
    private readonly docId: string,
    private readonly routes: Route[],
    private readonly bodyAjv: InstanceType<typeof Ajv>,
    private readonly paramAjv: InstanceType<typeof Ajv>,
  ) {}

  validate(req: RequestToValidate): ValidationResult {
    try {
      return this.validateUnsafe(req);
    } catch (err) {
      // Say so, rather than throw from inside a test helper. Usually a schema Ajv cannot compile.
      return { ok: false, errors: [`validator error: ${(err as Error).message}`] };
    }
  }

  assertAll(reqs: RequestToValidate[], opts: AssertAllOptions = {}): void {
    const failures: string[] = [];
    reqs.forEach((req, i) => {
      const result = this.validate(req);
      if (result.ok || (result.notCovered && opts.allowNotCovered)) return;
      const op = result.operationId ? ` (${result.operationId})` : '';
      failures.push(`  [${i}] ${req.method.toUpperCase()} ${req.url}${op}\n` + result.errors.map((e) => `      - ${e}`).join('\n'));
    });
    if (failures.length) {
      throw new Error(
        `${failures.length} of ${reqs.length} request(s) do not match the ${this.name} OpenAPI description:\n` + failures.join('\n'),
      );
    }
  }

  private validateUnsafe(req: RequestToValidate): ValidationResult {
    const url = new URL(req.url, 'http://relative.invalid');
    const method = req.method.toLowerCase();
    const specPath = this.profile.toSpecPath(url.pathname);

    const notCovered = this.profile.notCovered?.(specPath);
    if (notCovered) return { ok: false, notCovered: true, errors: [notCovered] };

    // --- path and method ---
    const matches = this.routes.filter((r) => r.regex.test(specPath)).sort(bySpecificity);
    if (matches.length === 0) {
      // Django (Plane) wants the trailing slash, and a POST without it fails. So the slash is
      // never ignored, but a mismatch says what the spec has.
      const other = specPath.endsWith('/') ? specPath.slice(0, -1) : `${specPath}/`;
      const hint = this.routes.some((r) => r.regex.test(other))
        ? ` (the spec has this path ${specPath.endsWith('/') ? 'without' : 'with'} a trailing slash)`
        : '';
      return { ok: false, errors: [`no path in the ${this.name} spec matches ${specPath}${hint}`] };
    }
    // Servers route on (method, path). So if the most specific template lacks this method but a
    // looser one has it (Jira `/issue/createmeta` vs `/issue/{issueIdOrKey}`), the looser one
    // handles the request. Its parameters are then checked, which catches most mix-ups.
    const route = matches.find((r) => r.item[method]);
    if (!route) {
      const allowed = HTTP_METHODS.filter((m) => matches[0].item[m]).map((m) => m.toUpperCase());
      return {
        ok: false,
        pathTemplate: matches[0].template,
        errors: [`method ${method.toUpperCase()} is not defined for ${matches[0].template} (spec allows: ${allowed.join(', ')})`],
      };
    }
    const op = this.operation(route, method);
    const errors: string[] = [];

    // --- parameters ---
    const captured = route.regex.exec(specPath)!.slice(1);
    const pathValues: Record<string, string> = {};
    route.paramNames.forEach((n, i) => {
      try {
        pathValues[n] = decodeURIComponent(captured[i]);
      } catch {
        pathValues[n] = captured[i];
      }
    });
    const headers = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const data: Record<string, Record<string, unknown>> = { path: {}, query: {}, header: {} };
    for (const p of op.params) {
      if (p.in === 'path') {
        if (p.name in pathValues) data.path[p.name] = pathValues[p.name];
      } else if (p.in === 'query') {
        const values = url.searchParams.getAll(p.name);
        if (values.length === 0) continue;
        if (p.isArray) {
          // style=form: explode (the default) repeats the key, explode=false uses commas.
          data.query[p.name] = p.explode ? values : values.flatMap((v) => v.split(','));
        } else if (values.length > 1) {
          errors.push(`query parameter '${p.name}': given ${values.length} times but the spec declares a single value`);
        } else {
          data.query[p.name] = values[0];
        }
      } else if (p.in === 'header') {
        const v = headers[p.name.toLowerCase()];
        if (v !== undefined) data.header[p.name] = v;
      }
    }
    // Query parameters the spec does not list are allowed. OpenAPI 3.0 has no way to forbid them
    // (short of a free-form object parameter, and none of these specs has one), and Plane
    // filters like `?external_id=` are not listed.
    if (!op.paramValidator(data)) errors.push(...formatErrors(op.paramValidator.errors, 'params'));

    // --- body ---
    errors.push(...this.validateBody(op, req, headers));

    return { ok: errors.length === 0, operationId: op.operationId, pathTemplate: route.template, errors };
  }

  private validateBody(op: OperationInfo, req: RequestToValidate, headers: Record<string, string>): string[] {
    const rb = op.requestBody;
    const hasBody = req.body !== undefined && req.body !== null && req.body !== '';
    if (!rb) {
      return hasBody ? [`body: ${op.method.toUpperCase()} ${op.template} declares no request body, but one was sent`] : [];
    }
    if (!hasBody) return rb.required ? ['body: request body is required'] : [];

    const contentType = (headers['content-type'] ?? 'application/json').split(';')[0].trim().toLowerCase();
    const content: Record<string, Json> = rb.content ?? {};
    const mediaKey =
      Object.keys(content).find((k) => k.toLowerCase() === contentType) ??
      Object.keys(content).find((k) => k.toLowerCase() === `${contentType.split('/')[0]}/*`) ??
      Object.keys(content).find((k) => k === '*/*');
    if (!mediaKey) {
      return [`body: content-type ${contentType} is not accepted (spec allows: ${Object.keys(content).join(', ')})`];
    }
    const isJson = contentType === 'application/json' || contentType.endsWith('+json');
    // Only JSON bodies are schema-checked. The adapters send JSON, and form/multipart/binary
    // bodies would need their own decoding.
    if (!isJson || !content[mediaKey]?.schema) return [];

    let body = req.body;
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const text = typeof body === 'string' ? body : new TextDecoder().decode(body);
      try {
        body = JSON.parse(text);
      } catch (err) {
        return [`body: not valid JSON (${(err as Error).message})`];
      }
    }
    let validate = op.bodyValidators.get(mediaKey);
    if (!validate) {
      validate = this.bodyAjv.compile({ $ref: `${this.docId}#${op.requestBodyPointer}${pointer('content', mediaKey, 'schema')}` });
      op.bodyValidators.set(mediaKey, validate);
    }
    return validate(body) ? [] : formatErrors(validate.errors, 'body');
  }

  /** Collects parameters and compiles the parameter validator for an operation, once. */
  private operation(route: Route, method: string): OperationInfo {
    const key = `${method} ${route.template}`;
    const cached = this.operations.get(key);
    if (cached) return cached;

    const rawOp = route.item[method];
    const byKey = new Map<string, ParamSpec>();
    const collect = (list: Json[] | undefined, base: string[]) => {
      (list ?? []).forEach((raw, i) => {
        let param = raw;
        let schemaPointer = pointer(...base, String(i), 'schema');
        if (typeof raw?.$ref === 'string') {
          param = this.resolve(raw.$ref);
          schemaPointer = `${refPointer(raw.$ref)}${pointer('schema')}`;
        }
        if (!param?.name || !param.in) return;
        let schema = param.schema;
        if (typeof schema?.$ref === 'string') schema = this.resolve(schema.$ref);
        const isArray = schema?.type === 'array' || (Array.isArray(schema?.type) && schema.type.includes('array'));
        // Operation-level parameters override path-level ones with the same name and location.
        byKey.set(`${param.in}:${param.name}`, {
          name: param.name,
          in: param.in,
          required: param.required === true || param.in === 'path',
          explode: param.explode ?? (param.style ?? 'form') === 'form',
          isArray,
          schemaPointer: param.schema ? schemaPointer : undefined,
        });
      });
    };
    collect(route.item.parameters, ['paths', route.template, 'parameters']);
    collect(rawOp.parameters, ['paths', route.template, method, 'parameters']);
    const params = [...byKey.values()];

    const group = (where: 'path' | 'query' | 'header') => {
      const ps = params.filter((p) => p.in === where);
      return {
        type: 'object',
        properties: Object.fromEntries(ps.map((p) => [p.name, p.schemaPointer ? { $ref: `${this.docId}#${p.schemaPointer}` } : {}])),
        required: ps.filter((p) => p.required).map((p) => p.name),
      };
    };
    const paramValidator = this.paramAjv.compile({
      type: 'object',
      properties: { path: group('path'), query: group('query'), header: group('header') },
    });

    let requestBody = rawOp.requestBody;
    let requestBodyPointer = pointer('paths', route.template, method, 'requestBody');
    if (typeof requestBody?.$ref === 'string') {
      requestBodyPointer = refPointer(requestBody.$ref);
      requestBody = this.resolve(requestBody.$ref);
    }

    const info: OperationInfo = {
      key,
      operationId: rawOp.operationId ?? key,
      template: route.template,
      method,
      params,
      paramValidator,
      requestBody,
      requestBodyPointer,
      bodyValidators: new Map(),
    };
    this.operations.set(key, info);
    return info;
  }

  private resolve(ref: string): Json {
    let node: Json = this.doc;
    for (const raw of ref.replace(/^#\//, '').split('/')) node = node?.[raw.replace(/~1/g, '/').replace(/~0/g, '~')];
    return node;
  }
}

/** Turns Ajv errors into "where: what" lines. The field name is always in the "where" part. */
function formatErrors(errors: ErrorObject[] | null | undefined, kind: 'body' | 'params'): string[] {
  const out: string[] = [];
  for (const e of errors ?? []) {
    // Leave out the two halves of the nullable rewrite. "must be null" and "must match a schema
    // in anyOf" add nothing to the real error from the non-null branch.
    if (e.parentSchema?.[NULL_BRANCH_KW]) continue;
    if (e.keyword === 'anyOf' && e.parentSchema?.[NULLABLE_WRAPPER_KW]) continue;

    let where: string;
    if (kind === 'body') {
      where = `body${e.instancePath}`;
    } else {
      // "/query/per_page" → "query parameter 'per_page'"
      const [, location, name, ...rest] = e.instancePath.split('/');
      const missing = e.keyword === 'required' ? (e.params as { missingProperty?: string }).missingProperty : undefined;
      const param = name ?? missing;
      where = param ? `${location} parameter '${param}'${rest.length ? '/' + rest.join('/') : ''}` : location || 'params';
      if (missing && !name) {
        out.push(`${where}: is required`);
        continue;
      }
    }
    let detail = e.message ?? e.keyword;
    const params = e.params as Record<string, unknown>;
    if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
      detail += `: ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    } else if (e.keyword === 'additionalProperties') {
      detail += ` ('${String(params.additionalProperty)}')`;
    }
    if (e.keyword !== 'required' && e.keyword !== 'additionalProperties' && 'data' in e) {
      detail += ` (got ${JSON.stringify(e.data)?.slice(0, 80)})`;
    }
    const line = `${where}: ${detail}`;
    if (!out.includes(line)) out.push(line);
  }
  return out;
}
