#!/bin/bash
# demo.sh: the quick start. Starts a throwaway PostgreSQL with sample data, runs a short MCP
# session against it through `pgmcp --stdio`, prints the results and the snippets that add
# pgmcp to Claude Desktop, Claude Code and VS Code, and tears everything down.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=$(realpath "${1:-$here/../build/pgmcp}")
dir=$(mktemp -d /tmp/pgmcp-demo.XXXXXX)
trap '"$here/pg-test-cluster" stop "$dir" >/dev/null 2>&1 || true' EXIT INT TERM

echo "Starting a throwaway PostgreSQL with sample data in $dir ..."
"$here/pg-test-cluster" start "$dir" >/dev/null
set -a
# shellcheck disable=SC1091
. "$dir/env"
set +a
python3 "$here/demo.py" "$bin" "$PGMCP_TEST_DSN_READER"
