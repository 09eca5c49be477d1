#!/usr/bin/env bash
# The demo batch job from a fresh machine: set-up (idempotent), build, then
# `resident run` over examples/prompts.jsonl with the small catalog model.
# Extra arguments go to `resident run` (e.g. --strategy shared).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

scripts/bootstrap.sh core
cmake --preset release >/dev/null
cmake --build --preset release --target resident >/dev/null

out=build/demo/completions.jsonl
mkdir -p "$(dirname "$out")"
build/release/tools/resident/resident run --model smollm2-135m-instruct \
    --input examples/prompts.jsonl --output "$out" --chat --max-tokens 48 "$@"
log "first rows of $out:"
head -n 3 "$out"
