#!/usr/bin/env bash
# The whole test suite from a fresh machine: set-up (idempotent), the format
# check, then the tests built three ways: release, ASan+UBSan, and TSan (with
# llama.cpp instrumented too). RESIDENT_TEST_PRESETS picks a subset.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

presets=${RESIDENT_TEST_PRESETS:-release asan tsan}
flavors=(release)
[[ " $presets " == *" tsan "* ]] && flavors+=(tsan)
scripts/bootstrap.sh "${flavors[@]}"

log "checking the format (clang-format)"
mapfile -t sources < <(git ls-files '*.cpp' '*.h')
clang-format --dry-run --Werror "${sources[@]}"

start=$SECONDS
for preset in $presets; do
    log "preset $preset: configure and build"
    cmake --preset "$preset" >/dev/null
    cmake --build --preset "$preset"
    if [ "$preset" = release ]; then
        # Fetch the test models once, up front, so a registry outage reads as
        # such and not as a test failure.
        for m in smollm2-135m-instruct gemma3-270m; do
            build/release/tools/resident/resident models pull "$m" >/dev/null
        done
    fi
    log "preset $preset: tests"
    ctest --preset "$preset"
done
log "all tests passed in $((SECONDS - start)) s"
