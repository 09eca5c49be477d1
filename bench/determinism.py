#!/usr/bin/env python3
"""How often does batching change a row's text? Runs the same seeded rows
through `resident run` alone (one predictor, one sequence at a time) and
batched at several sequences in flight, in both determinism modes, and prints
per setting how many rows came out identical and where the others diverged.

    bench/determinism.py                    # SmolLM2, 64 rows, 64 tokens
    bench/determinism.py --model gemma3-270m --rows 32 --raw

Not a test: llama.cpp documents that batched results may differ (its issue
#7052); this measures how much, for docs/determinism.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from run_bench import ROOT, build, die, log, run

SUBJECTS = ["the ocean", "a lighthouse keeper", "the first snow", "a broken clock",
            "an old library", "the night train", "a lost letter", "the market square"]
FORMS = ["Write a short story about {}.", "Describe {} in three sentences.",
         "What would you tell a child about {}?", "List five facts about {}.",
         "Write a poem about {}.", "Explain why people love {}.",
         "Give a news headline about {}.", "Invent a legend about {}."]


def write_rows(path: Path, n: int) -> None:
    with path.open("w") as f:
        for i in range(n):
            prompt = FORMS[i % len(FORMS)].format(SUBJECTS[(i // len(FORMS)) % len(SUBJECTS)])
            f.write(json.dumps({"id": f"row-{i}", "prompt": prompt}) + "\n")


def completions(resident: str, model: str, rows: Path, out: Path, a, extra: list[str]) -> list:
    cmd = [resident, "run", "--model", model, "--input", rows, "--output", out,
           *([] if a.raw else ["--chat"]), "--max-tokens", a.max_tokens, "--temperature", a.temperature, "--seed", a.seed,
           "--progress", "none", *extra]
    r = run(cmd, capture_output=True)
    if r.returncode != 0:
        die(f"{' '.join(map(str, cmd))} failed:\n{r.stderr[-3000:]}")
    result = [json.loads(line) for line in out.read_text().splitlines()]
    bad = [x for x in result if x["error"]]
    if bad:
        die(f"{len(bad)} rows failed, first: {bad[0]['error']}")
    return result


def common_prefix(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct",
                    help="catalog name or .gguf path")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--temperature", type=float, default=0.8,
                    help="sampling temperature (0 = greedy)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--parallel", default="2,4,8,16", help="sequences in flight to compare")
    ap.add_argument("--raw", action="store_true",
                    help="send prompts as they are (for models without a chat template)")
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build" / "bench")
    a = ap.parse_args()

    env = build(a.build_dir)
    resident = env["resident"]
    with tempfile.TemporaryDirectory(prefix="resident-determinism-") as tmp:
        work = Path(tmp)
        rows = work / "rows.jsonl"
        write_rows(rows, a.rows)
        log(f"reference: one predictor, one row at a time ({a.rows} rows)")
        ref = completions(resident, a.model, rows, work / "ref.jsonl", a,
                          ["--strategy", "predictor-per-thread", "--parallel", "1"])
        settings = [(f"batched, {n} in flight", ["--parallel", str(n)])
                    for n in map(int, a.parallel.split(","))]
        settings.append(("exact, 8 in flight", ["--parallel", "8", "--determinism", "exact"]))
        settings.append(("predictor-per-thread, 2 threads",
                         ["--strategy", "predictor-per-thread", "--parallel", "2"]))
        report = []
        for label, extra in settings:
            log(label)
            got = completions(resident, a.model, rows, work / "got.jsonl", a, extra)
            differ = [(r, g) for r, g in zip(ref, got) if r["completion"] != g["completion"]]
            # Where the texts part, as a share of the reference text's length.
            where = [common_prefix(r["completion"], g["completion"]) / max(1, len(r["completion"]))
                     for r, g in differ]
            report.append({"setting": label, "rows": a.rows,
                           "identical": a.rows - len(differ),
                           "median_divergence": statistics.median(where) if where else None})

    print(f"\nmodel {a.model}, {a.rows} rows, {a.max_tokens} tokens, "
          f"temperature {a.temperature}, seed {a.seed}; reference: one lone predictor")
    print(f"{'setting':34} {'identical rows':>15} {'differing rows part at':>24}")
    for r in report:
        part = ("-" if r["median_divergence"] is None
                else f"{100 * r['median_divergence']:.0f}% of the text")
        print(f"{r['setting']:34} {r['identical']:>8} / {r['rows']:<4} {part:>24}")
    (a.build_dir / "determinism.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
