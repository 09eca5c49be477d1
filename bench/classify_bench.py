#!/usr/bin/env python3
"""The image classification benchmark, one command: builds, fetches the photos,
makes the ResNet-50 bench model, runs resident-classify-bench on EfficientNet-
Lite0 and on it, and prints the images/s of Resident's onnx engine beside ONNX
Runtime on its own, with the ratios.

    bench/classify_bench.py           # both models, batch 1 and 8, 5 rounds (~3 min on 2 cores)
    bench/classify_bench.py --quick   # 2 rounds, fewer images per turn (< 1 min)
    bench/classify_bench.py --models resnet50 --threads 1

Standard library only; make_resnet50.py makes its own venv. A MISS (engine
(tensors) under 0.9 x ort) is reported, never an exit code: the exit code is
non-zero only when something failed to run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import run_bench
from make_bench_model import cache_dir

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

TARGET = 0.9  # engine (tensors) / ort, at every batch size
# Images per turn: about a second of the slowest measurement on 2 cores.
DEFAULT_COUNT = {"efficientnet-lite0": 128, "resnet50": 32}
QUICK_COUNT = {"efficientnet-lite0": 48, "resnet50": 16}
MODES = ["ort", "engine-tensors", "engine-bytes", "batch-engine"]
LABELS = {"ort": "ort", "engine-tensors": "engine (tensors)",
          "engine-bytes": "engine (from bytes)", "batch-engine": "batch engine"}

# The photos of tests/test_support.h: scikit-image 0.25.2's sample data.
SKIMAGE_WHEEL = "scikit_image-0.25.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
SKIMAGE_SHA256 = "24cc986e1f4187a12aa319f777b36008764e856e5013666a4a83f8df083c2641"

log = run_bench.log
die = run_bench.die
run = run_bench.run


def build(build_dir: Path) -> dict:
    """Configures (once) and builds resident and resident-classify-bench, as run_bench.py."""
    if not (build_dir / "build.ninja").exists():
        log(f"configuring {build_dir}")
        r = run(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
                 "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF"], capture_output=True)
        if r.returncode != 0:
            die(f"cmake failed (scripts/bootstrap.sh lays out llama.cpp and ONNX Runtime):\n"
                f"{r.stdout[-3000:]}{r.stderr[-3000:]}")
    log(f"building resident and resident-classify-bench in {build_dir}")
    r = run(["ninja", "-C", build_dir, "resident", "resident-classify-bench"], capture_output=True)
    if r.returncode != 0:
        die(f"build failed:\n{r.stdout[-4000:]}{r.stderr[-2000:]}")
    return json.loads((build_dir / "bench" / "bench_env.json").read_text())


def photos_dir() -> Path:
    """The test photos, fetched (the pinned wheel, hash-checked) when missing."""
    out = cache_dir() / "test-data" / "skimage-0.25.2"
    if (out / ".verified").exists():
        return out
    log("fetching the test photos (PyPI scikit-image==0.25.2)")
    with tempfile.TemporaryDirectory(prefix="resident-photos-") as tmp:
        r = run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                 "--quiet", "--disable-pip-version-check", "--python-version", "3.11",
                 "--implementation", "cp", "--abi", "cp311", "--platform", "manylinux2014_x86_64",
                 "--dest", tmp, "scikit-image==0.25.2"])
        wheel = Path(tmp) / SKIMAGE_WHEEL
        if r.returncode != 0 or not wheel.exists():
            die("pip download scikit-image==0.25.2 failed")
        if hashlib.sha256(wheel.read_bytes()).hexdigest() != SKIMAGE_SHA256:
            die(f"{wheel.name} is not the pinned wheel (sha256 differs)")
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=out.name + ".tmp-", dir=out.parent))
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if name.startswith("skimage/data/") and name.endswith((".png", ".jpg")):
                    (staging / name.rsplit("/", 1)[-1]).write_bytes(z.read(name))
        (staging / ".verified").write_text("scikit-image 0.25.2\n")
        try:
            staging.rename(out)
        except OSError:  # another process made it meanwhile: use that one
            shutil.rmtree(staging, ignore_errors=True)
    return out


def model_paths(env: dict, names: list[str]) -> dict[str, str]:
    paths = {}
    for name in names:
        if name == "resnet50":
            r = run([sys.executable, HERE / "make_resnet50.py", "--resident", env["resident"]],
                    stdout=subprocess.PIPE)
            if r.returncode != 0:
                die("bench/make_resnet50.py failed")
        else:
            r = run([env["resident"], "models", "pull", name], stdout=subprocess.PIPE)
            if r.returncode != 0:
                die(f"resident models pull {name} failed")
        paths[name] = r.stdout.strip().splitlines()[-1]
    return paths


def measure(env: dict, name: str, path: str, a, work: Path) -> dict:
    count = a.count or (QUICK_COUNT if a.quick else DEFAULT_COUNT).get(name, 24)
    out = work / f"{name}.json"
    cmd = [env["resident_classify_bench"], "-m", path, "-t", a.threads, "-b", a.batch,
           "-n", count, "-r", a.rounds, "--noise-limit", a.noise_limit,
           "--quiet-wait", a.idle_timeout, "--json", out]
    run_bench.wait_for_quiet(a.idle_timeout)
    with run_bench.Phase(name):
        r = run(cmd, stdout=subprocess.DEVNULL)
    if r.returncode != 0:
        die(f"resident-classify-bench failed on {name}")
    result = json.loads(out.read_text())
    result["name"] = Path(name).name if name.endswith(".onnx") else name
    return result


def report(results: list[dict], a, wall: float) -> list[str]:
    lines = []
    p = lines.append
    first = results[0]
    p("")
    p("== Resident image classification benchmark ==")
    p(f"machine   {first['cpu']}, {first['cores']} cores; ONNX Runtime {first['onnxruntime']}; "
      f"{first['threads']} intra-op threads in every measurement")
    p(f"workload  the {len(first['photos'])} test photos ({', '.join(first['photos'])}), cycled; "
      f"medians of {a.rounds} rounds taken in turns")
    p("")
    p("images/s (ratio to ort)")
    p(f"{'model':<20} | {'batch':>5} | {'ort':>7} | {'engine (tensors)':>16} | "
      f"{'engine (bytes)':>16} | {'batch engine':>16}")
    p("-" * 94)
    for res in results:
        for b in res["batches"]:
            m, vs = b["modes"], b.get("vs_ort", {})

            def cell(mode: str) -> str:
                if mode not in m:
                    return "-"
                rate = m[mode]["images_per_second"]
                return f"{rate:.1f} ({vs[mode]:.2f}x)" if mode in vs else f"{rate:.1f}"

            p(f"{res['name']:<20} | {b['batch']:>5} | {cell('ort'):>7} | "
              f"{cell('engine-tensors'):>16} | {cell('engine-bytes'):>16} | "
              f"{cell('batch-engine'):>16}")
    p("engine (tensors): OnnxModel::run on prepared images (no decode); engine (bytes): "
      "Classifier::classify_all on the")
    p("encoded photos on one thread (decode + prepare + run); batch engine: a ClassifyEngine "
      f"fed by {first['threads']} submitting threads.")
    p("")
    p("Target")
    for res in results:
        for b in res["batches"]:
            r = b.get("vs_ort", {}).get("engine-tensors")
            if r is not None:
                p(f"  {res['name']:<20} batch {b['batch']:<3} engine (tensors) >= {TARGET}x ort "
                  f"{r:5.2f}x  {run_bench.verdict(r >= TARGET)}")
    p("")
    # Each turn that other processes disturbed was run again once they were
    # quiet; those still disturbed make the numbers suspect.
    redone = sum(b.get("turns_redone", 0) for res in results for b in res["batches"])
    disturbed = {res["name"]: sum(b.get("turns_disturbed", 0) for b in res["batches"])
                 for res in results}
    if any(disturbed.values()):
        p("NOISY: turns run while other processes took > "
          f"{100 * a.noise_limit:.0f}% of the machine: " + "; ".join(
              f"{k} {v}" for k, v in disturbed.items() if v) + " -- rerun when it is quiet")
    else:
        p(f"Every turn ran on a quiet machine (other processes < {100 * a.noise_limit:.0f}%); "
          f"{redone} disturbed turn(s) were run again.")
    p(f"Total runtime {wall / 60:.1f} min.")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="efficientnet-lite0,resnet50",
                    help="catalog names, resnet50 (the bench model) or .onnx paths")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="intra-op threads, and submitting threads of the batch engine")
    ap.add_argument("--batch", default="1,8", help="images per inference call")
    ap.add_argument("--rounds", type=int, default=None, help="turns of each measurement (5)")
    ap.add_argument("--count", type=int, default=None,
                    help="images per turn (default per model: ~1 s of work)")
    ap.add_argument("--quick", action="store_true", help="2 rounds, fewer images per turn")
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build" / "bench")
    ap.add_argument("--idle-timeout", type=float, default=120,
                    help="seconds to wait for other processes to go quiet before each model "
                         "and before running a disturbed turn again")
    ap.add_argument("--noise-limit", type=float, default=run_bench.NOISE_LIMIT,
                    help="share of the machine other processes may take during a turn; "
                         "a turn over it runs again once they are quiet")
    ap.add_argument("--json-out", type=Path, default=None,
                    help="all results as JSON (default BUILD_DIR/classify_bench_results.json)")
    a = ap.parse_args()
    a.rounds = a.rounds or (2 if a.quick else 5)

    start = time.monotonic()
    env = build(a.build_dir)
    photos_dir()
    names = [n for n in a.models.split(",") if n]
    paths = model_paths(env, names)
    with tempfile.TemporaryDirectory(prefix="resident-classify-bench-") as tmp:
        results = [measure(env, n, paths[n], a, Path(tmp)) for n in names]
    wall = time.monotonic() - start
    lines = report(results, a, wall)
    print("\n".join(lines), flush=True)
    out = a.json_out or a.build_dir / "classify_bench_results.json"
    out.write_text(json.dumps({"results": results, "noise": run_bench.NOISE,
                               "runtime_seconds": wall, "report": lines}, indent=2) + "\n")
    log(f"results in {out}")


if __name__ == "__main__":
    main()
