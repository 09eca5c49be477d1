#!/usr/bin/env bash
# Builds the platform wheel of the Python package (py3-none-linux_x86_64), carrying the
# Spark jar that scripts/build-jar.sh makes, into DIR (default: dist/ at the repository
# root); prints the wheel's path. Builds the jar first only when there is none.
# PYTHON picks the interpreter (default python3); its pip builds the wheel, offline.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

out=${1:-$root/dist}
python=${PYTHON:-python3}
jar=$(ls "$root"/jvm/target/resident-spark_2.13-*.jar 2>/dev/null | grep -v -- '-sources' |
    head -n 1 || true)
[ -n "$jar" ] || jar=$("$root/scripts/build-jar.sh")

mkdir -p "$out"
log "building the platform wheel with $jar"
RESIDENT_JAR=$jar "$python" -m pip wheel -q --no-deps --disable-pip-version-check \
    -w "$out" "$root/python" >&2
ls -t "$out"/resident-*-py3-none-linux_x86_64.whl | head -n 1
