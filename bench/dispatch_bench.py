#!/usr/bin/env python3
"""What run-time dispatch costs: llama.cpp's one build (every CPU variant a
plug-in, Resident choosing the one this machine runs) against a build tuned
to this machine (-march=native), in the same run, in turns.

    bench/dispatch_bench.py                  # 0.5B bench model, 3 rounds (~4 min warm)
    bench/dispatch_bench.py --model smollm2 --reps 5

Measures one-row decode (llama-bench tg) and batched generation at 8 in
flight (llama-batched-bench, generated tokens over total time) with each
build's own tools, and prints the medians, their ratio and the variant that
ran. Target: dispatched >= 0.97 x tuned on both. The tuned build lives in the
user cache under a name made from this CPU's model and flags and the
compiler, and is built without ccache, so it is never reused on another CPU.
A MISS is reported, never an exit code.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import llama_view
import run_bench
from run_bench import ROOT, Phase, die, log, run

TARGET = 0.97


def cpu_fingerprint() -> str:
    """This CPU (model name and flags) and the compiler, hashed."""
    model, flags = "", ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name") and not model:
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = line.split(":", 1)[1].strip()
    cc = run(["c++", "--version"], capture_output=True).stdout.splitlines()[0]
    return hashlib.sha256(f"{model}\n{flags}\n{cc}".encode()).hexdigest()[:12]


def build_tuned(llama_home: Path) -> Path:
    """llama.cpp's tools built for this CPU only (GGML_NATIVE, static)."""
    build = llama_home / f"build-tuned-{cpu_fingerprint()}"
    tools = ["llama-bench", "llama-batched-bench"]
    if all((build / "bin" / t).exists() for t in tools):
        return build / "bin"
    amx_fix = llama_home / "gcc12_amx_fix.h"  # as bootstrap.sh forces it into every build
    log(f"building llama.cpp tuned to this machine in {build} (a few minutes, once per CPU)")
    opts = ["-G", "Ninja", "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF",
            "-DGGML_NATIVE=ON", "-DGGML_OPENMP=OFF", "-DLLAMA_BUILD_TESTS=OFF",
            "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_APP=OFF",
            "-DLLAMA_OPENSSL=OFF", "-DLLAMA_SUBPROCESS=OFF", "-DLLAMA_BUILD_TOOLS=ON",
            "-DLLAMA_BUILD_COMMON=ON", f"-DCMAKE_C_FLAGS=-include {amx_fix}",
            f"-DCMAKE_CXX_FLAGS=-include {amx_fix}"]
    # No ccache: it would key -march=native by its spelling, not by the CPU.
    env = dict(os.environ, CCACHE_DISABLE="1")
    r = run(["cmake", "-S", llama_home / "src", "-B", build, *opts], capture_output=True, env=env)
    if r.returncode != 0:
        die(f"configuring the tuned build failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    r = run(["cmake", "--build", build, "--target", *tools], capture_output=True, env=env)
    if r.returncode != 0:
        die(f"the tuned build failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    return build / "bin"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="bench",
                    help="bench (generated 0.5B, default), smollm2, or a .gguf path")
    ap.add_argument("--reps", type=int, default=3, help="rounds, each side once per round")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--pp", type=int, default=32, help="prompt tokens per sequence")
    ap.add_argument("--tg", type=int, default=128, help="tokens generated per sequence")
    ap.add_argument("--npl", type=int, default=8, help="sequences in flight for the batched run")
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build" / "bench")
    a = ap.parse_args()

    start = time.monotonic()
    if run([ROOT / "scripts" / "bootstrap.sh", "tools"]).returncode != 0:
        die("scripts/bootstrap.sh tools failed")
    env = run_bench.build(a.build_dir)
    info = llama_view.system_info(Path(env["resident"]))
    model = run_bench.resolve_model(a.model, env)
    llama_home = Path(env["llama_bin"]).parent.parent
    sides = {"dispatched": env["llama_bin"], "tuned": str(build_tuned(llama_home))}
    log(f"model {model}; dispatched runs {info['cpu_variant']}")

    # run_bench's tool runners, with its option names.
    opts = SimpleNamespace(threads=a.threads, tg=a.tg, flash_attn="auto", single_reps=1,
                           npl=[a.npl])
    decode: dict[str, list[float]] = {s: [] for s in sides}
    batched: dict[str, list[float]] = {s: [] for s in sides}
    for rep in range(a.reps):
        order = list(sides) if rep % 2 == 0 else list(reversed(sides))
        for side in order:
            tool_env = {"llama_bin": sides[side]}
            with Phase(f"round {rep + 1} {side}"):
                decode[side].append(run_bench.llama_bench(tool_env, model, opts, a.pp)["tg"]["avg_ts"])
                rows = run_bench.llama_batched_bench(tool_env, model, opts, a.pp, a.pp + a.tg)
                batched[side].append(rows[a.npl]["tok_s"])

    med = lambda xs: statistics.median(xs)  # noqa: E731
    lines = [
        "",
        f"Run-time dispatch vs a build tuned to this CPU ({info['cpu_brand']}, "
        f"{a.threads} threads, {model.name}, medians of {a.reps}; "
        f"dispatched runs the {info['cpu_variant']} plug-in)",
        f"  {'':<28} {'dispatched':>11} {'tuned':>11} {'ratio':>7}",
    ]
    verdicts = []
    for name, values in ((f"one-row decode (tg{a.tg})", decode),
                         (f"batched, {a.npl} in flight", batched)):
        d, t = med(values["dispatched"]), med(values["tuned"])
        ratio = d / t
        ok = ratio >= TARGET
        verdicts.append(ok)
        lines.append(f"  {name:<28} {d:9.2f}/s {t:9.2f}/s {ratio:7.3f}  "
                     f"{'pass' if ok else 'MISS'} (target >= {TARGET})")
    lines.append(f"  samples: decode {decode}, batched {batched}")
    lines.append(f"  wall {time.monotonic() - start:.0f} s")
    print("\n".join(lines), flush=True)


if __name__ == "__main__":
    sys.exit(main())
