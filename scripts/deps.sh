#!/bin/bash
# Ensure pgmcp's build/test dependencies (Debian packages) are installed.
# Usage: scripts/deps.sh [build|test]   (default: test = everything)
# As root, installs what is missing with apt-get; otherwise prints the
# sudo command to run and exits 1. Silent when nothing is missing.
set -eu

group=${1:-test}
build_pkgs="build-essential pkg-config libpq-dev libjson-c-dev libyaml-dev libpg-query-dev"
test_pkgs="postgresql-15 python3 valgrind clang libclang-rt-14-dev pgbouncer"

case $group in
    build) pkgs=$build_pkgs ;;
    test)  pkgs="$build_pkgs $test_pkgs" ;;
    *) echo "usage: $0 [build|test]" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing="$missing $p"
done

# Node: any node >= 18 with npm will do (it may come from NodeSource, nvm, ...).
if [ "$group" = test ]; then
    node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
    if [ "$node_major" -lt 18 ] || ! command -v npm >/dev/null 2>&1; then
        missing="$missing nodejs npm"
    fi
fi

[ -z "$missing" ] && exit 0
missing=${missing# }

if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages; run: sudo apt-get install -y --no-install-recommends $missing" >&2
    exit 1
fi

echo "deps.sh: installing $missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq </dev/null >/dev/null
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing </dev/null >/dev/null
