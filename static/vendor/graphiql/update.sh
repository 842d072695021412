#!/bin/sh
# Copies GraphiQL's standalone (UMD) build and what it runs on out of node_modules, as pinned
# by package.json + package-lock.json here, into this folder (served by src/http/assets.rs).
#   sh update.sh            # npm ci, copy, remove node_modules
#   KEEP_NODE_MODULES=1 sh update.sh
set -eu
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --ignore-scripts
m=node_modules
# One fix on top (GraphiQL 3.x and 4.x): clearing the docs search makes its combobox select
# null, and the handler's `"field" in null` throws. The same guard upstream has since added.
node -e '
const fs = require("fs");
const src = fs.readFileSync(process.argv[1], "utf8");
const bug = /(\w)=>\{(\w)\("field"in \1\?/g;
const hits = src.match(bug) || [];
if (hits.length !== 1) throw new Error(`the docs-search handler was found ${hits.length} times: check the patch`);
fs.writeFileSync(process.argv[2], src.replace(bug, (_, e, r) => `${e}=>{${e}&&${r}("field"in ${e}?`));
' "$m/graphiql/graphiql.min.js" graphiql.min.js
cp "$m/graphiql/graphiql.min.css" graphiql.min.css
cp "$m/react/umd/react.production.min.js" react.production.min.js
cp "$m/react-dom/umd/react-dom.production.min.js" react-dom.production.min.js
cp "$m/graphql-ws/umd/graphql-ws.min.js" graphql-ws.min.js
mkdir -p licenses
cp "$m/graphiql/LICENSE" licenses/graphiql.txt
cp "$m/react/LICENSE" licenses/react.txt
cp "$m/react-dom/LICENSE" licenses/react-dom.txt
cp "$m/graphql-ws/LICENSE.md" licenses/graphql-ws.txt
[ "${KEEP_NODE_MODULES:-}" = 1 ] || rm -rf node_modules
