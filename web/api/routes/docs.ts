import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { ApiRouter } from '../api-router.ts';
import { ApiError } from '../middleware/api-error.ts';

/** The renderer's files, served from the installed package (swagger-ui-dist): nothing from a CDN. */
const ASSETS: Record<string, string> = {
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui.css': 'text/css; charset=utf-8',
};

const INIT_JS = `window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '/api/v1/openapi.json', dom_id: '#api', deepLinking: true, withCredentials: true });
});
`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Patchbay API reference</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
<div id="api"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/init.js"></script>
</body>
</html>
`;

/** An API reference page over /api/v1/openapi.json (Swagger UI, bundled with the switch). */
export function mountDocsRoutes(api: ApiRouter): void {
  const dir = path.dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));

  api.define({ method: 'get', path: '/docs', summary: 'API reference page (Swagger UI over openapi.json)', tag: 'system', roles: 'public', produces: ['text/html'] }, async ({ ctx }) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Content-Security-Policy', "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'");
    ctx.body = PAGE;
    return undefined;
  });

  api.define({ method: 'get', path: '/docs/:file', summary: 'A file of the API reference page', tag: 'system', roles: 'public', produces: ['text/javascript', 'text/css'] }, async ({ ctx, params }) => {
    const file = params['file']!;
    if (file === 'init.js') {
      ctx.type = 'text/javascript; charset=utf-8';
      ctx.body = INIT_JS;
      return undefined;
    }
    const type = ASSETS[file];
    if (!type) throw new ApiError(404, 'no such file');
    ctx.type = type;
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = createReadStream(path.join(dir, file));
    return undefined;
  });
}
