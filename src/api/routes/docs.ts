import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { Hono } from 'hono';
import type { AppEnv } from '../context.ts';
import type * as OpenApi from '../openapi/document.ts';
import { PROJECT_ROOT } from '../../db/project-root.ts';

const require = createRequire(import.meta.url);
const { version } = require(join(PROJECT_ROOT, 'package.json')) as { version: string };
/** Swagger UI's files are served from the installed package: /docs works with no internet. */
const SWAGGER_DIR = dirname(require.resolve('swagger-ui-dist/package.json'));
const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'application/javascript; charset=utf-8',
};

const PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Trackline API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="ui"></div><script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#ui' });</script></body></html>`;

/** GET /openapi.json (generated from the Zod schemas) and GET /docs (Swagger UI over it). */
export function docsRoutes() {
  // Built on the first request, not at start: the description and its Zod-to-OpenAPI conversion
  // are only ever read by a person or a client generator, and `trackline api` keeps its start-up
  // allocation (and so its resident memory, issue 17 section 4) small.
  let document: Promise<ReturnType<typeof OpenApi.buildOpenApiDocument>> | undefined;
  return new Hono<AppEnv>()
    .get('/openapi.json', async (c) => {
      document ??= import('../openapi/document.ts').then((m) => m.buildOpenApiDocument(version));
      return c.json(await document);
    })
    .get('/docs', (c) => c.html(PAGE))
    .get('/docs/assets/:file', async (c) => {
      const file = c.req.param('file');
      const type = ASSETS[file];
      if (!type) return c.notFound();
      const body = await readFile(`${SWAGGER_DIR}/${file}`);
      return c.body(body, 200, { 'content-type': type, 'cache-control': 'public, max-age=86400' });
    });
}
