#!/usr/bin/env bash
# libFuzzer over the parsers that read outside bytes first: GGUF header
# inspection, the CLI's JSONL/CSV readers, the JNI layer's JSON codec. Builds
# them with clang, ASan and UBSan (cmake preset fuzz; clang-14 comes from the
# Debian package), seeds each from real inputs, and runs each for RUNS
# executions (default 1,000,000). Prints executions and crashes per target; a
# crash leaves its input in build/fuzz/findings/<target>/.
#
#   bench/fuzz.sh                 # 10^6 executions per target
#   RUNS=100000 bench/fuzz.sh     # quicker
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
runs=${RUNS:-1000000}

if ! command -v clang++-14 >/dev/null; then
    log "installing clang-14 (Debian package)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q clang-14 >/dev/null
fi
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz

work=build/fuzz/corpus
rm -rf "$work" build/fuzz/findings
mkdir -p "$work"/{gguf_inspect_fuzz,input_reader_fuzz,json_codec_fuzz}
# Seeds: the head of a real GGUF, real JSONL and CSV rows, real spec/request documents.
model=$(build/release/tools/resident/resident models path smollm2-135m-instruct 2>/dev/null || true)
if [ -n "$model" ] && [ -f "$model" ]; then
    head -c 65536 "$model" > "$work/gguf_inspect_fuzz/smollm2-head.gguf"
fi
printf 'GGUF\x03\x00\x00\x00' > "$work/gguf_inspect_fuzz/magic"
{ printf '\x00'; cat examples/prompts.jsonl; } > "$work/input_reader_fuzz/prompts.jsonl"
printf '\x01id,prompt\n1,"hello, ""world"""\n2,bye\n' > "$work/input_reader_fuzz/rows.csv"
echo '{"source":"m.gguf","ctx_size":256,"parallel":4,"determinism":"exact","weights":"auto"}' \
    > "$work/json_codec_fuzz/spec.json"
echo '{"prompt":"hi","max_tokens":4,"temperature":0.7,"stop":["x"],"timeout_seconds":1.5}' \
    > "$work/json_codec_fuzz/request.json"
echo '[{"messages":[{"role":"user","content":"hi"}],"row_key":"id:1","seed":3}]' \
    > "$work/json_codec_fuzz/requests.json"

status=0
for t in gguf_inspect_fuzz input_reader_fuzz json_codec_fuzz; do
    mkdir -p "build/fuzz/findings/$t"
    log "fuzzing $t: $runs executions"
    out=$(RESIDENT_LOG_LEVEL=off ASAN_OPTIONS=detect_leaks=1 "build/fuzz/bench/fuzz/$t" \
        -runs="$runs" -max_len=65536 -rss_limit_mb=4096 -print_final_stats=1 \
        -artifact_prefix="build/fuzz/findings/$t/" "$work/$t" 2>&1) || status=1
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' <<<"$out" | grep -o '[0-9]*$' || echo '?')
    crashes=$(ls "build/fuzz/findings/$t" | wc -l)
    printf '%-20s %12s executions  %d crashes\n' "$t" "$execs" "$crashes"
    [ "$crashes" -eq 0 ] || tail -40 <<<"$out"
done
exit $status
