// Whether dist/ was built from the sources as they are now. The build records every input file
// esbuild read (its metafile) with size and mtime; any change, or a missing file, means stale.
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = path.join(ROOT, 'dist');
export const MANIFEST = path.join(DIST, 'build-manifest.json');
/** Bump when the build's shape changes, so an old dist/ is rebuilt. */
export const BUILD_FORMAT = 1;
/** The compiled outputs the runtime needs (besides shared chunks, listed in the manifest). */
export const OUTPUTS = ['patchbay.js', 'worker.js'];

/** Size and mtime of a file, or undefined when it is gone. */
export function fileStamp(file) {
  try {
    const stat = statSync(file);
    return `${stat.size}:${Math.trunc(stat.mtimeMs)}`;
  } catch {
    return undefined;
  }
}

/** Why dist/ cannot be used as it is, or undefined when it is up to date. */
export function staleReason() {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(MANIFEST, 'utf8'));
  } catch {
    return 'no build yet';
  }
  if (manifest.format !== BUILD_FORMAT) return 'built by another version of the build';
  for (const [file, stamp] of Object.entries(manifest.inputs ?? {})) {
    if (fileStamp(path.join(ROOT, file)) !== stamp) return `${file} changed`;
  }
  for (const file of manifest.outputs ?? []) {
    if (fileStamp(path.join(DIST, file)) === undefined) return `dist/${file} is missing`;
  }
  return undefined;
}
