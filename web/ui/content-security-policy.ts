/**
 * The Content-Security-Policy the built app runs under (web/http-server.ts sends it with
 * index.html; the UI tests serve the app with it and fail on any violation). Everything is
 * 'self': scripts, Monaco's workers, the codicon font, API calls and the event WebSocket
 * (same origin; connect-src 'self' covers ws: and wss: to the same host in current browsers).
 * style-src needs 'unsafe-inline' because Monaco writes its theme and layout into <style>
 * elements and style attributes at run time; no script is ever inline or eval'd.
 */
export const UI_CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self'",
  "worker-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

/**
 * Cache-Control for files of web/ui/dist: Vite puts a content hash in every name under
 * assets/, so those never change; index.html must be revalidated to pick up a new build.
 */
export function uiCacheControl(pathInDist: string): string {
  return pathInDist.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
}
