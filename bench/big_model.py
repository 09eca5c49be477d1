#!/usr/bin/env python3
"""The 7B-class model on one machine: memory sized to the rows, the two
weights placements side by side, and cold loads against reading the file.

    bench/big_model.py                    # the 7B bench model (made and cached)
    bench/big_model.py --model M.gguf --rows 16 --max-tokens 64 --reps 3

Measures, with `resident run` (batched, --parallel sequences in flight, rows of
at most 64 prompt tokens + --max-tokens new ones):
  1. memory: `resident inspect` estimates (KV at the old parallel x ctx_size and
     sized to the rows) beside the measured peak RSS and PSS of the run;
  2. weights=private (repacked) vs weights=shared (mapped): load seconds,
     tokens/s, peak PSS of one process and the node's peak PSS (sum) with two
     processes at once (goal for shared: two <= 1.2x one);
  3. cold loads (page cache dropped when the machine lets us, else evicted
     with posix_fadvise): load seconds against `cat FILE` of the same file
     (target <= 1.2x), with and without Resident's prefetch.
Medians of --reps where repeated.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from procmem import rollup

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
GiB = 2**30


def log(msg: str) -> None:
    print(f"[big-model] {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], text=True, **kw)


class Sampler:
    """Peak Rss and Pss per process and the peak of the summed Pss, every 0.25 s."""

    def __init__(self, pids: list[int]):
        self.pids = pids
        self.peak_rss = {p: 0 for p in pids}
        self.peak_pss = {p: 0 for p in pids}
        self.peak_sum_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for p in self.pids:
                rss, pss = rollup(p)
                self.peak_rss[p] = max(self.peak_rss[p], rss)
                self.peak_pss[p] = max(self.peak_pss[p], pss)
                total += pss
            self.peak_sum_pss = max(self.peak_sum_pss, total)
            self._stop.wait(0.25)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def write_rows(path: Path, n: int) -> None:
    topics = ["rivers", "mountains", "bread", "trains", "music", "gardens", "bridges", "rain"]
    with path.open("w") as f:
        for i in range(n):
            t = topics[i % len(topics)]
            prompt = (f"Write a short paragraph about {t} for a children's book. Use simple "
                      f"words, one idea per sentence, and end with a question about {t}. ({i})")
            f.write(json.dumps({"id": i, "prompt": prompt}) + "\n")


def run_jobs(resident: str, model: str, rows: Path, work: Path, n: int, weights: str,
             a, env=None) -> tuple[list[dict], Sampler]:
    """`n` resident runs at once; their summaries and the memory sampler."""
    procs, summaries = [], []
    for k in range(n):
        summary = work / f"summary-{weights}-{n}-{k}.json"
        summaries.append(summary)
        procs.append(subprocess.Popen(
            [resident, "run", "-m", model, "-i", str(rows), "-o", str(work / f"out-{k}.jsonl"),
             "--strategy", "shared-batched", "--parallel", str(a.parallel), "--threads",
             str(a.threads), "--max-tokens", str(a.max_tokens), "--ctx-size", str(a.ctx_size),
             "--weights", weights, "--determinism", "fast", "--progress", "none",
             "--summary", str(summary)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})}))
    sampler = Sampler([p.pid for p in procs])
    for p in procs:
        _, err = p.communicate()
        if p.returncode != 0:
            sys.exit(f"resident run failed ({weights}):\n{err[-3000:]}")
    sampler.stop()
    return [json.loads(s.read_text()) for s in summaries], sampler


def drop_cache(path: str) -> str:
    """Drops the page cache (all of it when allowed, else this file's pages)."""
    sh(["sync"])
    try:
        Path("/proc/sys/vm/drop_caches").write_text("1\n")
        return "drop_caches"
    except OSError:
        fd = os.open(path, os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
        return "posix_fadvise(DONTNEED)"


def cold_load(resident: str, model: str, work: Path, weights: str, prefetch: bool) -> float:
    one = work / "one.jsonl"
    one.write_text(json.dumps({"id": 0, "prompt": "Hello"}) + "\n")
    summary = work / "summary-cold.json"
    r = sh([resident, "run", "-m", model, "-i", one, "-o", work / "out-cold.jsonl",
            "--max-tokens", "1", "--weights", weights, "--determinism", "fast", "--progress",
            "none", "--summary", summary],
           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
           env={**os.environ, "RESIDENT_PREFETCH": "1" if prefetch else "0"})  # default: off
    if r.returncode != 0:
        sys.exit(f"cold load failed:\n{r.stderr[-2000:]}")
    return json.loads(summary.read_text())["load_seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="bench-7b", help="a .gguf, or bench-7b (made and cached)")
    ap.add_argument("--rows", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--ctx-size", type=int, default=2048)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--reps", type=int, default=3, help="cold-load repetitions")
    ap.add_argument("--json-out", type=Path, default=ROOT / "build" / "big_model.json")
    a = ap.parse_args()

    sh(["cmake", "--preset", "release"], stdout=subprocess.DEVNULL, check=True)
    sh(["cmake", "--build", "--preset", "release", "--target", "resident"],
       stdout=subprocess.DEVNULL, check=True)
    resident = str(ROOT / "build" / "release" / "tools" / "resident" / "resident")
    model = a.model
    if model == "bench-7b":
        model = sh([sys.executable, HERE / "make_bench_model.py", "--shape", "7b"],
                   stdout=subprocess.PIPE, check=True).stdout.strip().splitlines()[-1]
    size = Path(model).stat().st_size
    log(f"model {model} ({size / GiB:.2f} GiB)")
    out: dict = {"model": model, "file_bytes": size, "args": {k: str(v) for k, v in vars(a).items()}}

    def inspect(*extra) -> dict:
        r = sh([resident, "inspect", model, "--json", "--parallel", a.parallel,
                "--determinism", "fast", *extra],
               stdout=subprocess.PIPE, check=True)
        return json.loads(r.stdout)["memory"]

    est_old = inspect("--kv-tokens", a.ctx_size, "--weights", "private")
    est_new = inspect("--kv-tokens", 128, "--weights", "private")
    est_shared = inspect("--kv-tokens", 128, "--weights", "shared")
    out["estimates"] = {"kv_ctx_size": est_old, "kv_sized": est_new, "kv_sized_shared": est_shared}

    with tempfile.TemporaryDirectory(prefix="resident-big-") as tmp:
        work = Path(tmp)
        rows = work / "rows.jsonl"
        write_rows(rows, a.rows)
        runs = {}
        for weights in ("private", "shared"):
            for n in (1, 2):
                log(f"weights={weights}: {n} process(es) at once")
                summaries, sampler = run_jobs(resident, model, rows, work, n, weights, a)
                runs[f"{weights}-{n}"] = {
                    "load_seconds": [s["load_seconds"] for s in summaries],
                    "tokens_per_second": [s["generated_tokens_per_second"] for s in summaries],
                    "peak_rss": list(sampler.peak_rss.values()),
                    "peak_pss": list(sampler.peak_pss.values()),
                    "node_peak_pss": sampler.peak_sum_pss,
                }
        out["runs"] = runs

        cold: dict = {"cat": [], "private": [], "private+prefetch": [], "shared": [],
                      "shared+prefetch": []}
        how = ""
        for rep in range(a.reps):
            log(f"cold loads, round {rep + 1}/{a.reps}")
            how = drop_cache(model)
            t0 = time.monotonic()
            sh(["cat", model], stdout=subprocess.DEVNULL, check=True)
            cold["cat"].append(time.monotonic() - t0)
            for weights in ("private", "shared"):
                for prefetch in (True, False):
                    drop_cache(model)
                    key = weights + ("+prefetch" if prefetch else "")
                    cold[key].append(cold_load(resident, model, work, weights, prefetch))
        out["cold"] = cold
        out["cold_drop"] = how

    med = {k: statistics.median(v) for k, v in cold.items()}
    print(f"\nmodel {Path(model).name}, {size / GiB:.2f} GiB; {a.rows} rows of <= 64 prompt + "
          f"{a.max_tokens} new tokens, {a.parallel} in flight, {a.threads} threads")
    print("\n1. memory of one process (weights private)")
    print(f"   estimate, KV at {a.parallel} x {a.ctx_size} (before):  "
          f"{est_old['private_total_bytes'] / GiB:6.2f} GiB private, "
          f"{est_old['total_bytes'] / GiB:6.2f} GiB in all")
    print(f"   estimate, KV sized to the rows ({a.parallel} x 128): "
          f"{est_new['private_total_bytes'] / GiB:6.2f} GiB private, "
          f"{est_new['total_bytes'] / GiB:6.2f} GiB in all")
    r1 = runs["private-1"]
    print(f"   measured: peak RSS {r1['peak_rss'][0] / GiB:.2f} GiB, peak PSS "
          f"{r1['peak_pss'][0] / GiB:.2f} GiB (target <= 5 GiB: "
          f"{'PASS' if r1['peak_pss'][0] <= 5 * GiB else 'MISS'})")
    print("\n2. weights placement")
    print(f"   {'weights':8} {'load s':>7} {'tok/s':>7} {'PSS 1 proc':>11} {'node PSS, 2 procs':>18}"
          f" {'2 / 1':>6}")
    for w in ("private", "shared"):
        one, two = runs[f"{w}-1"], runs[f"{w}-2"]
        ratio = two["node_peak_pss"] / max(1, one["peak_pss"][0])
        print(f"   {w:8} {one['load_seconds'][0]:>7.2f} {one['tokens_per_second'][0]:>7.2f} "
              f"{one['peak_pss'][0] / GiB:>7.2f} GiB {two['node_peak_pss'] / GiB:>14.2f} GiB "
              f"{ratio:>5.2f}x")
    shared_ratio = runs["shared-2"]["node_peak_pss"] / max(1, runs["shared-1"]["peak_pss"][0])
    print(f"   shared: two processes / one = {shared_ratio:.2f}x (goal <= 1.2: "
          f"{'PASS' if shared_ratio <= 1.2 else 'MISS'})")
    print(f"\n3. cold loads ({how}), medians of {a.reps}: cat {med['cat']:.2f} s")
    for k in ("private", "private+prefetch", "shared", "shared+prefetch"):
        ratio = med[k] / med["cat"]
        print(f"   {k:22} {med[k]:6.2f} s  {ratio:5.2f}x the read"
              + (f" (target <= 1.2: {'PASS' if ratio <= 1.2 else 'MISS'})"
                 if "+prefetch" not in k else " (RESIDENT_PREFETCH=1)"))
    a.json_out.parent.mkdir(parents=True, exist_ok=True)
    a.json_out.write_text(json.dumps(out, indent=2) + "\n")
    log(f"results in {a.json_out}")


if __name__ == "__main__":
    main()
