#!/usr/bin/env bash
# Prints the folder of the real photos the image tests classify (scikit-image's
# sample data: coffee.png an espresso, chelsea.png a tabby cat, rocket.jpg,
# motorcycle_left.png, astronaut.png, camera.png), fetching them once from the
# pinned PyPI wheel (hash-checked) into the user cache.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

version=0.25.2
wheel=scikit_image-$version-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
sha=24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641
out="$RESIDENT_CACHE_DIR/test-data/skimage-$version"

fetch() {
    [ -f "$out/.verified" ] && return 0
    local tmp
    tmp=$(mktemp -d "$out.tmp.XXXXXX")
    python3 -m pip download --no-deps --only-binary=:all: --disable-pip-version-check -q \
        --python-version 3.11 --implementation cp --abi cp311 --platform manylinux2014_x86_64 \
        -d "$tmp" "scikit-image==$version" >&2
    check_sha256 "$tmp/$wheel" "$sha" || die "the scikit-image wheel changed"
    python3 - "$tmp/$wheel" "$tmp" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    for n in z.namelist():
        if n.startswith("skimage/data/") and n.endswith((".png", ".jpg")):
            with open(sys.argv[2] + "/" + n.rsplit("/", 1)[1], "wb") as f:
                f.write(z.read(n))
PY
    rm -f "$tmp/$wheel"
    touch "$tmp/.verified"
    rm -rf "$out"
    mv "$tmp" "$out"
}

mkdir -p "$(dirname "$out")"
with_lock "$RESIDENT_CACHE_DIR/.test-photos.lock" fetch
echo "$out"
