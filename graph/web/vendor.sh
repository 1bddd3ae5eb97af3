#!/usr/bin/env bash
# Re-creates graph/web/static/vendor/ from the npm registry at the pinned versions below.
# Not run by the build or the tests: the vendored files are committed, so the server needs
# no network. Needs node and npm. Usage: graph/web/vendor.sh
set -euo pipefail
REACT=18.3.1
GRAPHIQL=3.8.3
ESBUILD=0.24.2
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "react@$REACT" "react-dom@$REACT" "graphiql@$GRAPHIQL" >/dev/null
npm install --silent --no-save "esbuild@$ESBUILD" >/dev/null
for package in react-$REACT react-dom-$REACT graphiql-$GRAPHIQL; do
  mkdir -p "$package" && tar xzf "$package.tgz" -C "$package" --strip-components=1
done
rm -rf "$out/react" "$out/react-dom" "$out/graphiql"
mkdir -p "$out/react" "$out/react-dom" "$out/graphiql"
cp react-$REACT/umd/react.production.min.js react-$REACT/LICENSE "$out/react/"
cp react-dom-$REACT/umd/react-dom.production.min.js react-dom-$REACT/LICENSE "$out/react-dom/"
# graphiql.min.js in the package is an unminified development bundle (3.5 MB, comments
# full of links): minify it; the licence comments of the libraries it bundles go to
# THIRD-PARTY-NOTICES.txt beside it (kept in the package, not served).
./node_modules/.bin/esbuild graphiql-$GRAPHIQL/graphiql.min.js --minify --legal-comments=external \
  --log-level=error --outfile="$out/graphiql/graphiql.min.js"
mv "$out/graphiql/graphiql.min.js.LEGAL.txt" "$out/graphiql/THIRD-PARTY-NOTICES.txt"
cp graphiql-$GRAPHIQL/graphiql.min.css graphiql-$GRAPHIQL/LICENSE "$out/graphiql/"
(cd "$out" && sha256sum react/* react-dom/* graphiql/* | grep -v -e LICENSE -e NOTICES)
