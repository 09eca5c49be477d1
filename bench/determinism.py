#!/usr/bin/env python3
"""Is a seeded row's text the same whatever else is in flight, and at what
speed? For each quantization of one model, runs the same seeded rows through
`resident run` with one lone predictor (the reference of its mode), then
through the batch engine at 1 to 16 sequences in flight, in both determinism
modes, and prints per setting the rows identical to the reference and the
generated tokens per second, with the invariant mode's throughput as a share
of the fast mode's best.

    bench/determinism.py                        # Gemma 3 270M, six quantizations
    bench/determinism.py --quants q4_k_m --parallel 1,8 --rows 16
    bench/determinism.py --model smollm2-135m-instruct --chat
    bench/determinism.py --variants haswell,icelake   # other CPU variants' kernels

The quantizations are made from the catalog's Gemma 3 270M (Q4_K_M, a
registry package) by llama.cpp's llama-quantize, once, into the bench model
cache; requantized weights are fine for this question, which is about how the
kernels of each type sum, not about quality.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
from pathlib import Path

from make_bench_model import cache_dir
from run_bench import ROOT, build, die, log, run

SUBJECTS = ["the ocean", "a lighthouse keeper", "the first snow", "a broken clock",
            "an old library", "the night train", "a lost letter", "the market square"]
FORMS = ["Write a short story about {}.", "Describe {} in three sentences.",
         "What would you tell a child about {}?", "List five facts about {}.",
         "Write a poem about {}.", "Explain why people love {}.",
         "Give a news headline about {}.", "Invent a legend about {}."]
# llama-quantize's names for the types the issue lists (Q5_K as Q5_K_M).
QUANTS = {"q4_0": "Q4_0", "q4_1": "Q4_1", "q4_k_m": "Q4_K_M", "q5_k": "Q5_K_M",
          "q6_k": "Q6_K", "q8_0": "Q8_0"}
MODES = ("invariant", "fast")


def write_rows(path: Path, n: int) -> None:
    with path.open("w") as f:
        for i in range(n):
            prompt = FORMS[i % len(FORMS)].format(SUBJECTS[(i // len(FORMS)) % len(SUBJECTS)])
            f.write(json.dumps({"id": f"row-{i}", "prompt": prompt}) + "\n")


def pull(resident: str, name: str) -> Path:
    r = run([resident, "models", "pull", name], stdout=subprocess.PIPE)
    if r.returncode != 0:
        die(f"resident models pull {name} failed")
    return Path(r.stdout.strip().splitlines()[-1])


def quantized(env: dict, source: Path, quant: str) -> Path:
    """`source` requantized to `quant`, made once into the bench model cache."""
    if quant == "q4_k_m":
        return source
    out = cache_dir() / "bench-models" / f"gemma-3-270m-{quant}.gguf"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        log(f"making {out.name} with llama-quantize")
        tmp = out.with_suffix(".tmp")
        r = run([Path(env["llama_bin"]) / "llama-quantize", "--allow-requantize", source, tmp,
                 QUANTS[quant], "2"], capture_output=True)
        if r.returncode != 0:
            die(f"llama-quantize {quant} failed:\n{r.stderr[-2000:]}")
        tmp.rename(out)
    return out


def job(resident: str, model: Path, rows: Path, work: Path, a, variant: str,
        extra: list[str]) -> tuple[list, dict]:
    out, summary = work / "out.jsonl", work / "summary.json"
    cmd = [resident, "run", "--model", model, "--input", rows, "--output", out,
           *(["--chat"] if a.chat else []), "--max-tokens", a.max_tokens,
           "--temperature", a.temperature, "--seed", a.seed, "--threads", a.threads,
           "--progress", "none", "--summary", summary, *extra]
    env = dict(os.environ)
    if variant != "auto":
        env["RESIDENT_CPU_VARIANT"] = variant
    r = run(cmd, capture_output=True, env=env)
    if r.returncode != 0:
        die(f"{' '.join(map(str, cmd))} failed:\n{r.stderr[-3000:]}")
    result = [json.loads(line) for line in out.read_text().splitlines()]
    bad = [x for x in result if x["error"]]
    if bad:
        die(f"{len(bad)} rows failed, first: {bad[0]['error']}")
    return result, json.loads(summary.read_text())


def tokens_per_second(s: dict) -> float:
    return s["completion_tokens"] / max(1e-9, s["wall_seconds"] - s["load_seconds"])


def measure(resident: str, model: Path, rows: Path, work: Path, a, variant: str) -> list[dict]:
    report = []
    for mode in MODES:
        ref, s = job(resident, model, rows, work, a, variant,
                     ["--strategy", "shared", "--parallel", "1",
                      "--determinism", mode])
        log(f"  {mode}: lone predictor {tokens_per_second(s):.1f} tok/s ({s['cpu_variant']})")
        for n in map(int, a.parallel.split(",")):
            speeds, identical = [], []
            for _ in range(a.runs):
                got, s = job(resident, model, rows, work, a, variant,
                             ["--parallel", str(n), "--determinism", mode])
                identical.append(sum(r["completion"] == g["completion"]
                                     for r, g in zip(ref, got)))
                speeds.append(tokens_per_second(s))
            row = {"mode": mode, "in_flight": n, "rows": len(ref),
                   "identical": min(identical), "tokens_per_second": statistics.median(speeds),
                   "cpu_variant": s["cpu_variant"]}
            log(f"  {mode}, {n} in flight: {row['identical']}/{len(ref)} identical, "
                f"{row['tokens_per_second']:.1f} tok/s")
            report.append(row)
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="gemma3-270m",
                    help="catalog name or .gguf path (quantizations are made of gemma3-270m only)")
    ap.add_argument("--quants", default=",".join(QUANTS),
                    help="quantizations of gemma3-270m to measure (ignored with another --model)")
    ap.add_argument("--variants", default="auto",
                    help="CPU variants to run under (auto, or names for RESIDENT_CPU_VARIANT)")
    ap.add_argument("--rows", type=int, default=24)
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--temperature", type=float, default=0.8)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--parallel", default="1,2,4,8,16", help="sequences in flight to compare")
    ap.add_argument("--runs", type=int, default=1, help="runs per setting (median speed)")
    ap.add_argument("--chat", action="store_true", help="render prompts with the chat template")
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build" / "bench")
    a = ap.parse_args()

    env = build(a.build_dir)
    resident = env["resident"]
    if a.model == "gemma3-270m":
        source = pull(resident, "gemma3-270m")
        models = {q: quantized(env, source, q) for q in a.quants.split(",")}
    else:
        models = {Path(a.model).name: Path(a.model) if Path(a.model).exists()
                  else pull(resident, a.model)}
    results = []
    with tempfile.TemporaryDirectory(prefix="resident-determinism-") as tmp:
        work = Path(tmp)
        rows = work / "rows.jsonl"
        write_rows(rows, a.rows)
        for variant in a.variants.split(","):
            for name, path in models.items():
                log(f"{name} ({variant}): {a.rows} rows x {a.max_tokens} tokens")
                for row in measure(resident, path, rows, work, a, variant):
                    results.append({"model": name, "variant": variant, **row})

    print(f"\n{a.rows} rows x {a.max_tokens} tokens, temperature {a.temperature}, seed "
          f"{a.seed}, {a.threads} threads; identical = rows equal to a lone predictor of the "
          "same mode")
    print(f"{'model':10} {'variant':16} {'mode':10} " +
          " ".join(f"{'n=' + n:>14}" for n in a.parallel.split(",")) + f" {'inv/fast':>9}")
    for variant in a.variants.split(","):
        for name in models:
            mine = [r for r in results if r["model"] == name and r["variant"] == variant]
            best = {m: max(r["tokens_per_second"] for r in mine if r["mode"] == m)
                    for m in MODES}
            for mode in MODES:
                cells = [f"{r['identical']:>2}/{r['rows']:<2} {r['tokens_per_second']:6.1f}"
                         for r in mine if r["mode"] == mode]
                ratio = f"{best['invariant'] / best['fast']:9.2f}" if mode == "invariant" else ""
                shown = mine[0]["cpu_variant"] if variant == "auto" else variant
                print(f"{name:10} {shown:16} {mode:10} " +
                      " ".join(f"{c:>14}" for c in cells) + f" {ratio}")
    print("cells: identical rows / rows, generated tokens per second (median of --runs); "
          "inv/fast: the invariant mode's best throughput over the fast mode's best")
    out = a.build_dir / "determinism.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")


if __name__ == "__main__":
    main()
