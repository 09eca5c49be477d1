#!/usr/bin/env bash
# The Python package's tests on a real Spark: the Spark venv of scripts/spark-env.sh, the
# test tools of python/requirements-test.txt (hash-checked, once), this package installed
# with the jar (rebuilt from python/ every run: it is small and offline), then pytest on
# python/tests (local[2], then local-cluster[2,1,1024], the real models). Builds nothing
# heavy: it takes the jar scripts/build-jar.sh made, and runs that only when there is none.
# Arguments go to pytest (e.g. -k wheel).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

spark_home=$(scripts/spark-env.sh)
venv="$RESIDENT_CACHE_DIR/venv-spark"
python="$venv/bin/python"
req="$root/python/requirements-test.txt"
stamp="$venv/.resident-test-requirements"
want=$(sha256sum "$req" | cut -c1-16)

install_test_tools() {
    [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return 0
    log "installing the Python test tools (python/requirements-test.txt) into $venv"
    "$python" -m pip install -q --disable-pip-version-check --require-hashes -r "$req" >&2 ||
        die "pip could not install python/requirements-test.txt"
    echo "$want" >"$stamp"
}
# The Spark venv's lock: spark-env.sh may be rebuilding the venv.
with_lock "$RESIDENT_CACHE_DIR/.spark.lock" install_test_tools

# RESIDENT_JAR picks another jar to test.
jar=${RESIDENT_JAR:-}
if [ -z "$jar" ]; then
    jar=$(ls "$root"/jvm/target/resident-spark_2.13-*.jar 2>/dev/null | grep -v -- '-sources' |
        head -n 1 || true)
fi
if [ -z "$jar" ]; then
    log "no jar in jvm/target: building it (scripts/build-jar.sh)"
    jar=$(scripts/build-jar.sh)
fi

# The package carries its own copy of the jar (the platform wheel), so a jar rebuilt while
# the tests run does not change under them.
log "installing the Python package (python/) with $jar"
RESIDENT_JAR=$jar "$python" -m pip install -q --disable-pip-version-check --no-deps \
    --force-reinstall "$root/python" >&2

log "Python tests (pytest python/tests)"
# RESIDENT_JAR is for the build above; the tests use the installed package's jar.
env -u RESIDENT_JAR SPARK_HOME="$spark_home" "$python" -m pytest -q python/tests "$@"
