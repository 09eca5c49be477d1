#!/usr/bin/env bash
# libFuzzer over the parsers that read outside bytes first: GGUF header
# inspection, the CLI's JSONL/CSV readers, the JNI layer's JSON codec. Builds
# them with clang, ASan and UBSan (cmake preset fuzz; clang-14 comes from the
# Debian package), seeds each from its checked-in corpus
# (bench/fuzz/corpus/<target>/; the GGUF seeds are tiny structured files from
# bench/fuzz/make_gguf_seeds.py), and runs each for RUNS executions (default
# 1,000,000) or, with SECONDS_EACH, for that many seconds (the test suite's
# asan preset runs it so). Prints executions and crashes per target; a crash
# leaves its input in build/fuzz/findings/<target>/ (add it to the corpus
# with the fix).
#
#   bench/fuzz.sh                     # 10^6 executions per target
#   RUNS=100000 bench/fuzz.sh         # quicker
#   SECONDS_EACH=30 bench/fuzz.sh     # bounded time (scripts/test.sh)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
if [ -n "${SECONDS_EACH:-}" ]; then
    bound=(-max_total_time="$SECONDS_EACH")
else
    bound=(-runs="${RUNS:-1000000}")
fi

if ! command -v clang++-14 >/dev/null || ! [ -d /usr/lib/llvm-14/lib/clang ]; then
    log "installing clang-14 (Debian package)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
        clang-14 libclang-rt-14-dev >/dev/null
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

# libFuzzer adds what it finds to the first folder: a scratch copy, so the
# checked-in corpus stays as committed.
work=build/fuzz/corpus
rm -rf "$work" build/fuzz/findings
mkdir -p "$work"
cp -r bench/fuzz/corpus/. "$work/"

status=0
for t in gguf_inspect_fuzz input_reader_fuzz json_codec_fuzz; do
    mkdir -p "build/fuzz/findings/$t"
    log "fuzzing $t: ${bound[*]}"
    out=$(RESIDENT_LOG_LEVEL=off ASAN_OPTIONS=detect_leaks=1 "build/fuzz/bench/fuzz/$t" \
        "${bound[@]}" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="build/fuzz/findings/$t/" "$work/$t" 2>&1) || status=1
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' <<<"$out" | grep -o '[0-9]*$' || echo '?')
    crashes=$(ls "build/fuzz/findings/$t" | wc -l)
    printf '%-20s %12s executions  %d crashes\n' "$t" "$execs" "$crashes"
    [ "$crashes" -eq 0 ] || tail -40 <<<"$out"
done
exit $status
