import { z } from 'zod';
import { EventsAccepted, EventsBody } from '../../intake/event-schema.ts';
import { pageQuery } from '../pagination.ts';
import { ResolveBody } from '../routes/conflicts.ts';
import { DeliveriesQuery, RetryBody } from '../routes/deliveries.ts';
import { SyncBody } from '../routes/connections.ts';
import * as R from './responses.ts';

/**
 * The OpenAPI 3.1 description of the HTTP API, generated from the Zod schemas: request bodies
 * and query parameters from the very schemas the routes validate with, so the document cannot
 * drift from what the server accepts. OpenAPI 3.1 uses JSON Schema 2020-12, which is what
 * `z.toJSONSchema` emits.
 */

type Json = Record<string, unknown>;

const schema = (s: z.ZodType, io: 'input' | 'output' = 'output'): Json => {
  const { $schema: _, ...rest } = z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Json;
  return rest;
};

const json = (s: z.ZodType, description: string, io: 'input' | 'output' = 'output') => ({
  description,
  content: { 'application/json': { schema: schema(s, io) } },
});

const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((s) => [String(s), { $ref: `#/components/responses/E${s}` }]));

/** Query parameters, one per key of a Zod object (values arrive as strings and are coerced). */
function queryParams(object: z.ZodObject): Json[] {
  return Object.entries(object.shape).map(([name, field]) => ({
    name,
    in: 'query',
    required: false,
    schema: schema(field as z.ZodType, 'output'),
    ...((field as z.ZodType).description ? { description: (field as z.ZodType).description } : {}),
  }));
}

const pathParam = (name: string, description: string) => ({ name, in: 'path', required: true, schema: { type: 'string' }, description });

export function buildOpenApiDocument(version: string): Json {
  const secured = { security: [{ bearer: [] }] };
  return {
    openapi: '3.1.0',
    info: {
      title: 'Trackline',
      version,
      description: 'Two-way sync between an orchestrator’s work items and issue trackers (Plane, GitHub, Jira).',
    },
    servers: [{ url: '/' }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' }, admin: { type: 'http', scheme: 'basic' } },
      responses: Object.fromEntries(
        [
          [400, 'Bad input: the message names the field'],
          [401, 'Missing or wrong bearer token (or webhook signature)'],
          [403, 'The token lacks the scope the route needs, or is limited to other connections (the message names which)'],
          [404, 'Not found'],
          [409, 'Conflict with the current state'],
          [413, 'Body over 1 MiB'],
          [415, 'Content-Type is not application/json'],
          [422, 'Idempotency-Key reused with a different body'],
          [503, 'Postgres or Redis unavailable; retry after Retry-After'],
        ].map(([code, description]) => [`E${code}`, json(R.ErrorBody, description as string)]),
      ),
    },
    paths: {
      '/v1/events': {
        post: {
          ...secured,
          operationId: 'postEvents',
          summary: 'Record orchestrator events (one, or {"events": [...]} up to 500)',
          parameters: [
            {
              name: 'Idempotency-Key',
              in: 'header',
              required: false,
              schema: { type: 'string', maxLength: 255 },
              description: 'A retried request with the same key returns the first answer',
            },
          ],
          requestBody: { required: true, content: { 'application/json': { schema: schema(EventsBody, 'input') } } },
          responses: { '202': json(EventsAccepted, 'Accepted and durable'), ...errors(400, 401, 413, 415, 422, 503) },
        },
      },
      '/v1/items/{key}': {
        get: {
          ...secured,
          operationId: 'getItem',
          summary: 'An item, its version, and its state on every connection',
          parameters: [pathParam('key', 'The item key, URL-encoded (user-auth%2FWP02)')],
          responses: { '200': json(R.ItemView, 'The item'), ...errors(401, 404) },
        },
      },
      '/v1/items/{key}/activity': {
        get: {
          ...secured,
          operationId: 'getItemActivity',
          summary: 'The item’s audit trail, oldest first',
          parameters: [pathParam('key', 'The item key, URL-encoded'), ...queryParams(pageQuery)],
          responses: { '200': json(R.ActivityPage, 'A page of the trail'), ...errors(400, 401, 404) },
        },
      },
      '/v1/changes': {
        get: {
          ...secured,
          operationId: 'getChanges',
          summary: 'Remote changes for the orchestrator, in order (also sent as signed callbacks)',
          parameters: queryParams(pageQuery),
          responses: { '200': json(R.ChangePage, 'A page of changes; poll again from `next`'), ...errors(400, 401) },
        },
      },
      '/v1/conflicts': {
        get: {
          ...secured,
          operationId: 'listConflicts',
          summary: 'Conflicts, e.g. ?status=open',
          parameters: [
            ...queryParams(pageQuery),
            { name: 'status', in: 'query', schema: { type: 'string', enum: ['open', 'resolved'] } },
            { name: 'connection', in: 'query', schema: { type: 'string' } },
            { name: 'key', in: 'query', schema: { type: 'string' } },
          ],
          responses: { '200': json(R.ConflictPage, 'A page of conflicts'), ...errors(400, 401) },
        },
      },
      '/v1/conflicts/{id}/resolve': {
        post: {
          ...secured,
          operationId: 'resolveConflict',
          summary: 'Resolve an open conflict with the local or the remote value',
          parameters: [pathParam('id', 'The conflict id')],
          requestBody: { required: true, content: { 'application/json': { schema: schema(ResolveBody, 'input') } } },
          responses: { '200': json(R.ConflictView, 'Resolved; the next reconcile applies it'), ...errors(400, 401, 404, 409) },
        },
      },
      '/v1/deliveries': {
        get: {
          ...secured,
          operationId: 'listDeliveries',
          summary: 'Inbound requests and outbound jobs, newest first',
          parameters: queryParams(DeliveriesQuery),
          responses: { '200': json(R.DeliveryPage, 'A page of deliveries'), ...errors(400, 401) },
        },
      },
      '/v1/deliveries/{id}': {
        get: {
          ...secured,
          operationId: 'getDelivery',
          summary: 'A delivery: the request (secrets redacted), each attempt with its tracker calls',
          parameters: [pathParam('id', 'The delivery id (uuid)')],
          responses: { '200': json(R.DeliveryDetail, 'The delivery'), ...errors(401, 404) },
        },
      },
      '/v1/deliveries/{id}/retry': {
        post: {
          ...secured,
          operationId: 'retryDelivery',
          summary: 'Run a delivery again (recorded in the item’s trail with the operator)',
          parameters: [pathParam('id', 'The delivery id (uuid)')],
          requestBody: { required: false, content: { 'application/json': { schema: schema(RetryBody, 'input') } } },
          responses: { '202': json(R.RetryAccepted, 'Retried'), ...errors(400, 401, 404, 409) },
        },
      },
      '/v1/connections': {
        get: {
          ...secured,
          operationId: 'listConnections',
          summary: 'Each connection: reachable, last success and error, budget, pending work, polling',
          parameters: queryParams(pageQuery.extend({ after: z.string().optional() })),
          responses: { '200': json(R.ConnectionPage, 'The connections'), ...errors(400, 401) },
        },
      },
      '/v1/connections/{id}/sync': {
        post: {
          ...secured,
          operationId: 'syncConnection',
          summary: 'Sync a whole connection (or some items, or only labels) now, force it, or plan it (dryRun: reads only, writes nothing)',
          description:
            'Needs the `admin` scope, forced or not. With `force`, the items’ values are recorded as forced by `actor` ' +
            '(default `operator:token-<token id>`) before anything is enqueued, one `sync.forced` row in each item’s trail. ' +
            'Unknown keys, wrong types, an unknown item, force with dryRun, with direction pull or on a connection that only pulls, or actor without force: 400 naming ' +
            'the field, nothing written.',
          parameters: [pathParam('id', 'The connection id')],
          requestBody: { required: false, content: { 'application/json': { schema: schema(SyncBody, 'input') } } },
          responses: {
            '200': json(R.SyncResult, 'The dry-run plan'),
            '202': json(R.SyncResult, 'Enqueued (forced: how many items were forced, and by whom)'),
            ...errors(400, 401, 403, 404),
          },
        },
      },
      '/webhooks/{connectionId}': {
        post: {
          operationId: 'receiveWebhook',
          summary: 'Tracker webhooks; the connection’s tracker decides how the signature is checked',
          parameters: [pathParam('connectionId', 'The connection id')],
          requestBody: { required: true, content: { 'application/json': { schema: {} } } },
          responses: {
            '202': { description: 'Accepted and durable' },
            '200': { description: 'A duplicate of a delivery already accepted' },
            ...errors(400, 401, 404, 413, 503),
          },
        },
      },
      '/healthz': { get: { operationId: 'healthz', summary: 'Alive', responses: { '200': { description: 'Alive' } } } },
      '/readyz': {
        get: {
          operationId: 'readyz',
          summary: 'Postgres and the queue store (Redis, or the queues in PostgreSQL) reachable',
          responses: { '200': { description: 'Ready' }, '503': { description: 'Not ready' } },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics',
          responses: { '200': { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } } },
        },
      },
    },
  };
}
