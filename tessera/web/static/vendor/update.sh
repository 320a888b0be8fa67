#!/usr/bin/env bash
# Refresh the vendored browser libraries from npm (run by hand; nothing is fetched at run time).
# Usage: tessera/web/static/vendor/update.sh   (needs node + npm; works in a temporary folder, node_modules never lands here)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack sigma@3.0.3 graphology@0.26.0 leaflet@1.9.4 world-atlas@2.0.2 topojson-client@3.1.0 >/dev/null
for f in *.tgz; do d="${f%.tgz}"; mkdir -p "x/$d"; tar xzf "$f" -C "x/$d"; done
copy() { mkdir -p "$here/$1"; shift; cp -r "$@"; }
copy sigma x/sigma-3.0.3/package/dist/sigma.min.js x/sigma-3.0.3/package/LICENSE.txt "$here/sigma/"
copy graphology x/graphology-0.26.0/package/dist/graphology.umd.min.js x/graphology-0.26.0/package/LICENSE.txt "$here/graphology/"
copy leaflet x/leaflet-1.9.4/package/dist/leaflet.js x/leaflet-1.9.4/package/dist/leaflet.css \
  x/leaflet-1.9.4/package/dist/images x/leaflet-1.9.4/package/LICENSE "$here/leaflet/"
copy world-atlas x/world-atlas-2.0.2/package/countries-110m.json x/world-atlas-2.0.2/package/countries-50m.json \
  x/world-atlas-2.0.2/package/land-110m.json x/world-atlas-2.0.2/package/land-50m.json \
  x/world-atlas-2.0.2/package/LICENSE "$here/world-atlas/"
copy topojson-client x/topojson-client-3.1.0/package/dist/topojson-client.min.js x/topojson-client-3.1.0/package/LICENSE \
  "$here/topojson-client/"
# graphology-layout-forceatlas2 ships CommonJS only: bundle it (with graphology-utils) into one browser global.
npm init -y >/dev/null
npm install --no-audit --no-fund graphology-layout-forceatlas2@0.10.1 graphology-utils@2.5.2 esbuild@0.28.2 >/dev/null
cp "$here/graphology-layout-forceatlas2/entry.js" .
npx esbuild entry.js --bundle --minify --format=iife \
  --outfile="$here/graphology-layout-forceatlas2/graphology-layout-forceatlas2.min.js"
cp node_modules/graphology-layout-forceatlas2/LICENSE.txt "$here/graphology-layout-forceatlas2/LICENSE.txt"
cp node_modules/graphology-utils/LICENSE.txt "$here/graphology-layout-forceatlas2/LICENSE-graphology-utils.txt"
