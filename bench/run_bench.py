#!/usr/bin/env python3
"""The Resident benchmark, one command: builds, makes the models, runs
resident-bench beside llama.cpp's llama-batched-bench and llama-bench, runs a
small job through each `resident run` strategy, and prints the ratios and
whether the targets are met.

    bench/run_bench.py              # 0.5B bench model, full run (~8 min on 2 cores)
    bench/run_bench.py --quick      # fewer sizes and tokens (~3 min)
    bench/run_bench.py --model smollm2

Standard library only; the model generator makes its own venv. A MISS is
reported, never an exit code: the exit code is non-zero only when something
failed to run.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import llama_view

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# The targets (see bench/README.md).
TARGET_BATCHED_VS_PPT = 1.5      # batched / predictor-per-thread at N = 8
TARGET_BATCHED_VS_LLAMA = 0.9    # batched / llama-batched-bench at the same N
TARGET_DECODE_VS_LLAMA = 0.95    # one-row decode / llama-bench tg
# Other processes busier than this (share of all cores) make a phase's
# numbers suspect: the run waits for quiet first, and flags what it could not.
NOISE_LIMIT = 0.10


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def die(msg: str) -> None:
    print(f"[bench] error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


# --- the machine's other load ---------------------------------------------------


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    idle = v[3] + v[4]
    return sum(v) - idle, sum(v)


def children_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class Phase:
    """Times a phase and measures how much of the machine other processes took.

    Busy time of all cores minus the CPU time of our own (waited-for) children
    is what the rest of the machine used meanwhile.
    """

    def __init__(self, name: str):
        self.name = name

    def __enter__(self):
        self.start = time.monotonic()
        self.busy0, self.total0 = cpu_jiffies()
        self.child0 = children_cpu_seconds()
        return self

    def __exit__(self, *exc):
        busy1, total1 = cpu_jiffies()
        self.seconds = time.monotonic() - self.start
        tick = os.sysconf("SC_CLK_TCK")
        own = (children_cpu_seconds() - self.child0) * tick
        span = max(1, total1 - self.total0)
        self.other = max(0.0, (busy1 - self.busy0 - own) / span)
        flag = "  <-- NOISY: other processes were busy" if self.other > NOISE_LIMIT else ""
        log(f"{self.name}: {self.seconds:.0f} s; other processes used "
            f"{100 * self.other:.0f}% of the machine{flag}")
        NOISE[self.name] = self.other
        return False


NOISE: dict[str, float] = {}


def wait_for_quiet(timeout: float) -> None:
    """Waits (up to `timeout` s) until other processes leave the cores idle."""
    deadline = time.monotonic() + timeout
    said = False
    while True:
        b0, t0 = cpu_jiffies()
        time.sleep(1.0)
        b1, t1 = cpu_jiffies()
        load = (b1 - b0) / max(1, t1 - t0)
        if load < NOISE_LIMIT:
            if said:
                log("the machine is quiet again")
            return
        if time.monotonic() > deadline:
            log(f"the machine is still {100 * load:.0f}% busy after {timeout:.0f} s: "
                "measuring anyway; the numbers will be flagged")
            return
        if not said:
            log(f"other processes use {100 * load:.0f}% of the machine: waiting for quiet "
                f"(at most {timeout:.0f} s; --idle-timeout)")
            said = True


# --- build and models -----------------------------------------------------------


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    kw.setdefault("text", True)
    return subprocess.run([str(c) for c in cmd], **kw)


def build(build_dir: Path) -> dict:
    env_file = build_dir / "bench" / "bench_env.json"
    if not (build_dir / "build.ninja").exists() or not env_file.exists():
        log(f"configuring {build_dir}")
        # Tests are not needed here, and leaving them out keeps this build
        # independent of test files in progress.
        r = run(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
                 "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF"],
                capture_output=True)
        if r.returncode != 0 and "is not built" in (r.stdout + r.stderr):
            log("llama.cpp is not built: scripts/bootstrap.sh tools")
            if run([ROOT / "scripts" / "bootstrap.sh", "tools"]).returncode != 0:
                die("scripts/bootstrap.sh failed")
            r = run(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
                     "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_TESTING=OFF"], capture_output=True)
        if r.returncode != 0:
            die(f"cmake failed:\n{r.stdout[-3000:]}{r.stderr[-3000:]}")
    log(f"building resident and resident-bench in {build_dir}")
    r = run(["ninja", "-C", build_dir, "resident", "resident-bench"], capture_output=True)
    if r.returncode != 0:
        die(f"build failed:\n{r.stdout[-4000:]}{r.stderr[-2000:]}")
    env = json.loads(env_file.read_text())
    for tool in ("llama-bench", "llama-batched-bench", "llama-quantize"):
        if not (Path(env["llama_bin"]) / tool).exists():
            log(f"{tool} is missing: scripts/bootstrap.sh tools")
            if run([ROOT / "scripts" / "bootstrap.sh", "tools"]).returncode != 0:
                die("scripts/bootstrap.sh failed")
            break
    # llama.cpp's tools run over the plug-in Resident chose (bench/llama_view.py).
    info = llama_view.system_info(Path(env["resident"]))
    env["cpu_variant"] = info["cpu_variant"]
    env["llama_bin"] = str(llama_view.tool_view(Path(env["llama_bin"]), info["cpu_variant"]))
    log(f"CPU variant {info['cpu_variant']} (selected by {info['selected_by']}) on both sides")
    return env


def resolve_model(choice: str, env: dict) -> Path:
    if choice not in ("bench", "smollm2"):
        path = Path(choice)
        if not path.exists():
            die(f"no model at {path}: use bench, smollm2 or a .gguf path")
        return path
    r = run([env["resident"], "models", "pull", "smollm2-135m-instruct"],
            stdout=subprocess.PIPE)
    if r.returncode != 0:
        die("resident models pull smollm2-135m-instruct failed")
    smollm2 = Path(r.stdout.strip().splitlines()[-1])
    if choice == "smollm2":
        return smollm2
    r = run([sys.executable, HERE / "make_bench_model.py", "--vocab-from", smollm2,
             "--llama-bin", env["llama_bin"]], stdout=subprocess.PIPE)
    if r.returncode != 0:
        die("bench/make_bench_model.py failed")
    return Path(r.stdout.strip().splitlines()[-1])


# --- the measurements -----------------------------------------------------------


def resident_bench(env: dict, model: Path, a, modes: str, out: Path) -> dict:
    """One resident-bench run: one round of each N, a.single_reps one-row runs."""
    r = run([env["resident_bench"], "-m", model, "-t", a.threads, "--pp", a.pp, "--tg", a.tg,
             "--npl", ",".join(map(str, a.npl)), "-r", 1, "--single-reps", a.single_reps,
             "--modes", modes, "-o", out])
    if r.returncode != 0:
        die("resident-bench failed")
    return json.loads(out.read_text())


def llama_batched_bench(env: dict, model: Path, a, pp: int, ctx: int) -> dict[int, dict]:
    """One llama-batched-bench run: {N: its JSON row}."""
    # Non-unified KV cache (its default, and Resident's): each of the
    # max(N) streams gets c / max(N) cells, the same context per sequence.
    cmd = [Path(env["llama_bin"]) / "llama-batched-bench", "-m", model, "-t", a.threads,
           "-tb", a.threads, "-c", ctx * max(a.npl), "-b", 512, "-ub", 512, "-npp", pp,
           "-ntg", a.tg, "-npl", ",".join(map(str, a.npl)), "-fa", a.flash_attn,
           "--output-format", "jsonl"]
    log("llama-batched-bench " + " ".join(str(c) for c in cmd[1:]))
    r = run(cmd, capture_output=True)
    if r.returncode != 0:
        die(f"llama-batched-bench failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    rows = {}
    for line in (r.stdout + r.stderr).splitlines():
        line = line.strip()
        if line.startswith("{") and '"speed_tg"' in line:
            row = json.loads(line)
            # Comparable to our wall-time rate: generated tokens over its total
            # time, prompt included.
            row["tok_s"] = row["pl"] * row["tg"] / row["t"]
            rows[row["pl"]] = row
    log("llama-batched-bench: " + ", ".join(
        f"N={n} {row['tok_s']:.2f}" for n, row in sorted(rows.items())) + " tok/s (B*TG/T)")
    return rows


def llama_bench(env: dict, model: Path, a, pp: int) -> dict:
    """One llama-bench run (its own warm-up and a.single_reps repetitions)."""
    cmd = [Path(env["llama_bin"]) / "llama-bench", "-m", model, "-t", a.threads, "-p", pp,
           "-n", a.tg, "-fa", a.flash_attn, "-r", a.single_reps, "-o", "json"]
    log("llama-bench " + " ".join(str(c) for c in cmd[1:]))
    r = run(cmd, capture_output=True)
    if r.returncode != 0:
        die(f"llama-bench failed:\n{r.stdout[-2000:]}{r.stderr[-2000:]}")
    out = {}
    for t in json.loads(r.stdout):
        key = "pp" if t["n_prompt"] > 0 and t["n_gen"] == 0 else "tg"
        out[key] = {"avg_ts": t["avg_ts"], "stddev_ts": t["stddev_ts"],
                    "samples_ts": t.get("samples_ts") or [t["avg_ts"]]}
    log(f"llama-bench: pp{pp} {out['pp']['avg_ts']:.2f}, tg{a.tg} {out['tg']['avg_ts']:.2f} tok/s")
    return out


def measure(env: dict, model: Path, a, work: Path) -> tuple[dict, dict, dict]:
    """Runs every tool a.reps times, interleaved, and merges the runs.

    The machine's speed drifts by several percent over minutes, so each
    comparison is made between runs that sit next to each other in time:
    per repetition, the one-row decode right before llama-bench, then both
    strategies at every N right before llama-batched-bench.
    """
    singles, lbs, rbs, lbbs = [], [], [], []
    for rep in range(a.reps):
        tag = f"{rep + 1}/{a.reps}"
        wait_for_quiet(a.idle_timeout)
        with Phase(f"resident-bench single {tag}"):
            singles.append(resident_bench(env, model, a, "single", work / f"single-{rep}.json"))
        pp = singles[0]["prompt_tokens"]
        with Phase(f"llama-bench {tag}"):
            lbs.append(llama_bench(env, model, a, pp))
        wait_for_quiet(a.idle_timeout)
        with Phase(f"resident-bench batched+ppt {tag}"):
            rbs.append(resident_bench(env, model, a, "batched,predictor-per-thread",
                                      work / f"npl-{rep}.json"))
        with Phase(f"llama-batched-bench {tag}"):
            lbbs.append(llama_batched_bench(env, model, a, pp, rbs[0]["ctx_size"]))

    med = statistics.median
    rb = dict(rbs[0])
    rb["reps"] = a.reps
    decode = [x for s in singles for x in s["single"]["decode_tok_s_runs"]]
    prompt = [x for s in singles for x in s["single"]["prompt_tok_s_runs"]]
    rb["single"] = {"decode_tok_s": med(decode), "prompt_tok_s": med(prompt),
                    "decode_tok_s_runs": decode, "prompt_tok_s_runs": prompt}
    for key in ("batched", "predictor_per_thread"):
        merged = []
        for i, first in enumerate(rbs[0][key]):
            runs = [r[key][i] for r in rbs]
            m = dict(first)
            m["tok_s_runs"] = [x["tok_s"] for x in runs]
            m["tok_s"] = med(m["tok_s_runs"])
            m["wall_s"] = med(x["wall_s"] for x in runs)
            if "decode_calls_per_round" in first:
                m["decode_calls_per_round"] = max(x["decode_calls_per_round"] for x in runs)
            merged.append(m)
        rb[key] = merged
    lbb = {}
    for n in lbbs[0]:
        rates = [runs[n]["tok_s"] for runs in lbbs if n in runs]
        lbb[n] = {"tok_s": med(rates), "tok_s_runs": rates,
                  "speed_tg_median": med(runs[n]["speed_tg"] for runs in lbbs if n in runs),
                  "t_median": med(runs[n]["t"] for runs in lbbs if n in runs),
                  "flash_attn": lbbs[0][n]["flash_attn"]}
    lb = {}
    for key in ("pp", "tg"):
        samples = [x for run_ in lbs for x in run_[key]["samples_ts"]]
        lb[key] = {"avg_ts": med(samples), "stddev_ts": statistics.pstdev(samples),
                   "samples_ts": samples}
    return rb, lbb, lb


def strategies(env: dict, model: Path, a, prompt: str, work: Path) -> list[dict]:
    rows = work / "rows.jsonl"
    with rows.open("w") as f:
        for i in range(a.rows):
            f.write(json.dumps({"id": i, "prompt": prompt}) + "\n")
    plans = [("shared-batched", []), ("shared", []),
             ("per-partition", ["--partitions", str(a.partitions)])]
    out = []
    for name, extra in plans:
        wait_for_quiet(a.idle_timeout)
        runs = []
        with Phase(f"resident run --strategy {name}"):
            for rep in range(a.strategy_runs):
                summary = work / f"{name}-{rep}.json"
                cmd = [env["resident"], "run", "--model", model, "--input", rows,
                       "--output", work / f"{name}-{rep}.out.jsonl", "--strategy", name,
                       "--parallel", a.strategy_parallel, "--threads", a.threads,
                       "--max-tokens", a.rows_max_tokens, "--ignore-eos", "--summary", summary,
                       "--progress", "none", *extra]
                r = run(cmd, capture_output=True)
                if r.returncode != 0:
                    die(f"resident run --strategy {name} failed:\n{r.stderr[-3000:]}")
                runs.append(json.loads(summary.read_text()))
        # The run with the median wall time stands for the strategy.
        runs.sort(key=lambda s: s["wall_seconds"])
        s = runs[len(runs) // 2]
        s["wall_seconds_runs"] = [x["wall_seconds"] for x in runs]
        out.append(s)
        log(f"{name}: {s['wall_seconds']:.2f} s, {s['model_loads']} load(s)")
    return out


# --- the report -----------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def report(rb: dict, lbb: dict[int, dict], lb: dict, strat: list[dict], a, wall: float) -> list[str]:
    lines = []
    p = lines.append
    noisy = {k for k, v in NOISE.items() if v > NOISE_LIMIT}
    p("")
    p("== Resident benchmark ==")
    p(f"model     {Path(rb['model']).name}  ({rb['n_params'] / 1e6:.1f} M parameters, "
      f"{rb['quantization']}, {rb['n_layer']} layers x {rb['n_embd']})")
    p(f"machine   {rb['cores']} cores; {rb['threads']} compute threads in every tool; "
      f"flash attention '{a.flash_attn}' in every tool")
    p(f"workload  prompt {rb['prompt_tokens']} tokens (asked {rb['pp_requested']}), "
      f"{rb['tg']} generated per sequence, ignore EOS, greedy; ctx {rb['ctx_size']} per "
      f"sequence; medians of {rb['reps']} interleaved runs of every tool")
    p("")
    p("Aggregate generated tok/s by sequences in flight N (wall time includes the prompt)")
    p(f"{'N':>4} | {'batched':>8} | {'pred/thread':>11} | {'llama-batched':>13} | "
      f"{'batched/ppt':>11} | {'batched/llama':>13}")
    p("-" * 76)
    batched = {r["n"]: r for r in rb["batched"]}
    ppt = {r["n"]: r for r in rb["predictor_per_thread"]}
    for n in a.npl:
        b, q, l = batched[n]["tok_s"], ppt[n]["tok_s"], lbb.get(n, {}).get("tok_s", 0)
        p(f"{n:>4} | {b:>8.2f} | {q:>11.2f} | {l:>13.2f} | {b / q:>10.2f}x | "
          f"{(b / l if l else 0):>12.2f}x")
    p("llama-batched t/s = B*TG / T, T = its total time T_PP + T_TG: like ours it includes the "
      "prompt")
    p("(its own S t/s also counts prompt tokens as output; not used). pred/thread: N threads, "
      "max(1, cores/N) each.")
    late = [f"N={r['n']}: {r['decode_calls_per_round']:.0f}" for r in rb["batched"]
            if r["decode_calls_per_round"] > rb["tg"] + 0.5]
    if late:
        p(f"batched decode calls per round above the ideal {rb['tg']}: {', '.join(late)} "
          "(sequences admitted after the first step)")
    p("")
    s = rb["single"]
    tg = lb["tg"]["avg_ts"]
    p("One-row decode")
    p(f"  {'resident single predictor':<26} {s['decode_tok_s']:8.2f} tok/s  (tokens after the "
      "first / generation_seconds)")
    p(f"  {'llama-bench tg' + str(rb['tg']):<26} {tg:8.2f} tok/s  (sd {lb['tg']['stddev_ts']:.2f})")
    p(f"  (medians of {len(s['decode_tok_s_runs'])} runs each, taken in turns)")
    p(f"  {'ratio':<26} {s['decode_tok_s'] / tg:8.2f}x")
    p(f"  prompt: resident {s['prompt_tok_s']:.2f} tok/s over {rb['prompt_tokens']} tokens "
      f"(incl. first sample); llama-bench pp{rb['prompt_tokens']} {lb['pp']['avg_ts']:.2f} tok/s")
    p("")
    p("Targets")

    def target(label: str, ratio: float, goal: float, note: str = "") -> None:
        p(f"  {label:<52} {ratio:5.2f}x  {verdict(ratio >= goal)}{note}")

    if 8 in batched and 8 in ppt:
        # What llama.cpp's own batching reaches over the same predictors: the
        # ceiling of this machine for any engine built on it.
        ceiling = f"  (llama-batched-bench: {lbb[8]['tok_s'] / ppt[8]['tok_s']:.2f}x)" \
            if 8 in lbb else ""
        target(f"batched >= {TARGET_BATCHED_VS_PPT}x predictor-per-thread at N=8",
               batched[8]["tok_s"] / ppt[8]["tok_s"], TARGET_BATCHED_VS_PPT, ceiling)
    for n in a.npl:
        if n in lbb:
            target(f"batched >= {TARGET_BATCHED_VS_LLAMA}x llama-batched-bench at N={n}",
                   batched[n]["tok_s"] / lbb[n]["tok_s"], TARGET_BATCHED_VS_LLAMA)
    target(f"one-row decode >= {TARGET_DECODE_VS_LLAMA}x llama-bench tg",
           s["decode_tok_s"] / tg, TARGET_DECODE_VS_LLAMA)
    if strat:
        p("")
        p(f"Strategies: `resident run` over {a.rows} rows, max {a.rows_max_tokens} tokens, ignore "
          f"EOS, --parallel {a.strategy_parallel}, --threads {a.threads} "
          f"(per-partition: {a.partitions} partitions); median of {a.strategy_runs} run(s)")
        p(f"{'strategy':<21} | {'loads':>5} | {'load s':>6} | {'wall s':>7} | {'rows/s':>6} | "
          f"{'gen tok/s':>9} | {'peak RSS':>9} | {'wall/sh-batch':>12}")
        p("-" * 96)
        base = next((x["wall_seconds"] for x in strat if x["strategy"] == "shared-batched"), None)
        for x in strat:
            w = x["wall_seconds"]
            p(f"{x['strategy']:<21} | {x['model_loads']:>5} | {x['load_seconds']:>6.2f} | "
              f"{w:>7.2f} | {x['rows'] / w:>6.2f} | {x['generated_tokens_per_second']:>9.2f} | "
              f"{x['peak_rss_bytes'] / 2**20:>5.0f} MiB | {(w / base if base else 0):>11.2f}x")
    p("")
    if noisy:
        p("NOISY (other processes took > "
          f"{100 * NOISE_LIMIT:.0f}% of the machine): " + "; ".join(
              f"{k} {100 * NOISE[k]:.0f}%" for k in sorted(noisy)) + " -- rerun when it is quiet")
    else:
        p(f"All phases ran on a quiet machine (other processes < {100 * NOISE_LIMIT:.0f}%).")
    p(f"Total runtime {wall / 60:.1f} min.")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="bench",
                    help="bench (generated 0.5B, default), smollm2, or a .gguf path")
    ap.add_argument("--quick", action="store_true",
                    help="N in 1,4,8,16, 64 generated tokens, 32 rows, one run per strategy")
    ap.add_argument("--pp", type=int, default=32, help="prompt tokens per sequence")
    ap.add_argument("--tg", type=int, default=None, help="tokens generated per sequence (128)")
    ap.add_argument("--npl", default=None, help="sequences in flight (1,2,4,8,16)")
    ap.add_argument("--reps", type=int, default=None, help="runs per measurement (3)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="compute threads for every tool (all cores)")
    ap.add_argument("--flash-attn", default="auto", choices=["auto", "on", "off"],
                    help="for the llama.cpp tools; Resident uses llama.cpp's default, auto")
    ap.add_argument("--rows", type=int, default=None, help="rows of the strategies job (64)")
    ap.add_argument("--rows-max-tokens", type=int, default=32)
    ap.add_argument("--strategy-parallel", type=int, default=8,
                    help="--parallel of each strategy: sequences in flight or worker threads")
    ap.add_argument("--partitions", type=int, default=8, help="partitions of per-partition")
    ap.add_argument("--strategy-runs", type=int, default=None, help="runs per strategy (3)")
    ap.add_argument("--skip", default="", help="comma list of phases to skip: strategies")
    ap.add_argument("--build-dir", type=Path, default=ROOT / "build" / "bench")
    ap.add_argument("--idle-timeout", type=float, default=120,
                    help="seconds to wait for other processes to go quiet before each phase")
    ap.add_argument("--json-out", type=Path, default=None,
                    help="all results as JSON (default BUILD_DIR/bench_results.json)")
    a = ap.parse_args()
    a.tg = a.tg or (64 if a.quick else 128)
    a.reps = a.reps or 3
    a.single_reps = 3
    a.rows = a.rows or (32 if a.quick else 64)
    a.strategy_runs = a.strategy_runs or (1 if a.quick else 3)
    a.npl = [int(x) for x in (a.npl or ("1,4,8,16" if a.quick else "1,2,4,8,16")).split(",")]
    skip = set(filter(None, a.skip.split(",")))

    start = time.monotonic()
    env = build(a.build_dir)
    model = resolve_model(a.model, env)
    log(f"model {model}")
    with tempfile.TemporaryDirectory(prefix="resident-bench-") as tmp:
        work = Path(tmp)
        rb, lbb, lb = measure(env, model, a, work)
        strat = [] if "strategies" in skip else strategies(env, model, a, rb["prompt"], work)
    wall = time.monotonic() - start
    lines = report(rb, lbb, lb, strat, a, wall)
    print("\n".join(lines), flush=True)
    out = a.json_out or a.build_dir / "bench_results.json"
    out.write_text(json.dumps({
        "resident_bench": rb, "llama_batched_bench": {str(k): v for k, v in lbb.items()},
        "llama_bench": lb, "strategies": strat, "noise": NOISE, "runtime_seconds": wall,
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
        "report": lines}, indent=2) + "\n")
    log(f"results in {out}")


if __name__ == "__main__":
    main()
