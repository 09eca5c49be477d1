# Shared helpers for the set-up, demo and test scripts. Source, do not run.
# shellcheck shell=bash

RESIDENT_CACHE_DIR=${RESIDENT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/resident}
export RESIDENT_CACHE_DIR
mkdir -p "$RESIDENT_CACHE_DIR"

# shellcheck source=third_party/llama.cpp.lock
source "$root/third_party/llama.cpp.lock"
# One folder per pinned llama.cpp commit, so a new pin never reuses an old build.
LLAMA_HOME="$RESIDENT_CACHE_DIR/llama.cpp/$LLAMA_CPP_VERSION-${LLAMA_CPP_COMMIT:0:8}"
export LLAMA_HOME
# shellcheck source=third_party/onnxruntime.lock
source "$root/third_party/onnxruntime.lock"
ORT_HOME="$RESIDENT_CACHE_DIR/onnxruntime/$ORT_VERSION-api$ORT_HEADERS_API"
export ORT_HOME

log() { printf '[resident] %s\n' "$*" >&2; }
die() {
    printf '[resident] error: %s\n' "$*" >&2
    exit 1
}

check_sha256() {
    local file=$1 want=$2 got
    [ -f "$file" ] || { printf 'missing %s\n' "$file" >&2; return 1; }
    got=$(sha256sum "$file" | cut -d' ' -f1)
    [ "$got" = "$want" ] && return 0
    printf '[resident] sha256 mismatch for %s: got %s, want %s\n' "$file" "$got" "$want" >&2
    return 1
}

# Runs "$@" holding an exclusive lock on file $1, so that two set-ups started
# at once (two terminals, two CI jobs sharing a cache) never build over each other.
with_lock() {
    local lock=$1
    shift
    (
        flock 9
        "$@"
    ) 9>"$lock"
}
