#!/usr/bin/env bash
# Makes sure a Spark distribution is installed (PyPI pyspark, pinned and
# hash-checked, in a venv under the user cache) and prints its SPARK_HOME.
# Idempotent: a second run does nothing but print.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

req="$root/jvm/requirements-spark.txt"
venv="$RESIDENT_CACHE_DIR/venv-spark"
stamp="$venv/.resident-requirements"
want=$(sha256sum "$req" | cut -c1-16)

install_spark() {
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
    log "installing Spark (PyPI pyspark, see jvm/requirements-spark.txt) into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed: install python3-venv"
    "$venv/bin/pip" install -q --disable-pip-version-check --require-hashes -r "$req" >&2 ||
        die "pip could not install pyspark"
    echo "$want" >"$stamp"
}
with_lock "$RESIDENT_CACHE_DIR/.spark.lock" install_spark

spark_home=$("$venv/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
[ -x "$spark_home/bin/spark-submit" ] || die "no bin/spark-submit in $spark_home"
echo "$spark_home"
