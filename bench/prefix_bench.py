#!/usr/bin/env python3
"""Shared-prefix reuse: rows that share a long preamble (a system prompt, a
few-shot block, a template), through `resident run --strategy batched` with
prefix reuse (the default) and with --no-prefix-reuse, side by side in one run.

    bench/prefix_bench.py                        # 256 rows, ~400-token preamble, 3 runs
    bench/prefix_bench.py --rows 64 --runs 1     # quicker

Prints, per mode: job seconds, generated tokens/s, prompt tokens decoded and
reused (medians), then the tokens/s ratio (target >= 3x) and how many rows have
the same text in both modes (target: all).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 3.0


def preamble() -> str:
    """About 400 SmolLM2 tokens of notes that every row's question refers to."""
    notes = []
    for i in range(24):
        notes.append(f"Note {i + 1}: shipment {1000 + 7 * i} left the depot on day {i % 7 + 1} "
                     f"carrying {3 * i + 5} crates.")
    return ("You are a logistics assistant. Answer in one short sentence using only the "
            "notes below.\n" + "\n".join(notes) + "\n")


def write_rows(path: Path, rows: int) -> None:
    head = preamble()
    with path.open("w") as f:
        for i in range(rows):
            q = f"Question {i}: how many crates did shipment {1000 + 7 * (i % 24)} carry?"
            f.write(json.dumps({"id": i, "prompt": head + q + "\nAnswer:"}) + "\n")


def run(resident: Path, model: str, rows: Path, out: Path, a, reuse: bool) -> dict:
    summary = out.with_suffix(".summary.json")
    cmd = [resident, "run", "--model", model, "--input", rows, "--output", out,
           "--strategy", "shared-batched", "--parallel", a.parallel, "--max-tokens", a.max_tokens,
           "--ctx-size", a.ctx_size, "--progress", "none", "--summary", summary]
    if not reuse:
        cmd.append("--no-prefix-reuse")
    r = subprocess.run([str(c) for c in cmd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:
        sys.exit(f"resident run failed:\n{r.stderr[-3000:]}")
    s = json.loads(summary.read_text())
    s["texts"] = {json.loads(l)["id"]: json.loads(l).get("completion")
                  for l in out.read_text().splitlines()}
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--rows", type=int, default=256)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--ctx-size", type=int, default=1024)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()

    subprocess.run(["cmake", "--preset", "release"], cwd=ROOT, stdout=subprocess.DEVNULL,
                   check=True)
    subprocess.run(["cmake", "--build", "--preset", "release", "--target", "resident"], cwd=ROOT,
                   stdout=subprocess.DEVNULL, check=True)
    resident = ROOT / "build" / "release" / "tools" / "resident" / "resident"
    with tempfile.TemporaryDirectory(prefix="resident-prefix-bench-") as tmp:
        work = Path(tmp)
        rows = work / "rows.jsonl"
        write_rows(rows, a.rows)
        results = {True: [], False: []}
        for i in range(a.runs):
            for reuse in (True, False):  # alternated, so drift hits both alike
                print(f"[prefix-bench] run {i + 1}/{a.runs}: prefix reuse {'on' if reuse else 'off'}",
                      file=sys.stderr, flush=True)
                results[reuse].append(run(resident, a.model, rows, work / f"out-{reuse}-{i}.jsonl",
                                          a, reuse))

    def med(reuse: bool, key: str) -> float:
        return statistics.median(r[key] for r in results[reuse])

    print(f"\n{a.rows} rows sharing a preamble, {a.max_tokens} tokens max, model {a.model}, "
          f"parallel {a.parallel}; medians of {a.runs}")
    print(f"{'prefix reuse':<14} {'job s':>7} {'tok/s':>8} {'prompt tok':>11} {'reused tok':>11}")
    for reuse in (True, False):
        print(f"{'on' if reuse else 'off':<14} {med(reuse, 'wall_seconds'):>7.2f} "
              f"{med(reuse, 'generated_tokens_per_second'):>8.1f} "
              f"{med(reuse, 'prompt_tokens'):>11.0f} {med(reuse, 'reused_prompt_tokens'):>11.0f}")
    ratio = med(True, "generated_tokens_per_second") / med(False, "generated_tokens_per_second")
    same = sum(1 for k, v in results[True][0]["texts"].items()
               if v is not None and results[False][0]["texts"].get(k) == v)
    print(f"\ntokens/s with reuse / without = {ratio:.2f}x (target >= {TARGET:.0f}x) "
          f"{'PASS' if ratio >= TARGET else 'MISS'}")
    print(f"rows with the same text in both modes: {same}/{a.rows} "
          f"{'PASS' if same == a.rows else 'MISS'}")
    for reuse in (True, False):
        if len(results[reuse]) > 1:
            a0, a1 = results[reuse][0]["texts"], results[reuse][1]["texts"]
            print(f"rows with the same text in two runs, reuse {'on' if reuse else 'off'}: "
                  f"{sum(1 for k, v in a0.items() if a1.get(k) == v)}/{a.rows}")


if __name__ == "__main__":
    main()
