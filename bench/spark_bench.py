#!/usr/bin/env python3
"""The loading strategies on a real Spark: the ready job (ResidentJob) through
spark-submit in local-cluster mode, for each strategy and partition count,
beside the same rows through `resident run` (no Spark).

    bench/spark_bench.py                      # SmolLM2, 64 rows, P = 2, 8, 32
    bench/spark_bench.py --rows 32 --partitions 2,8 --runs 1
    bench/spark_bench.py --rows 256 --max-tokens 64 --partitions 8 --runs 1 \
        --strategies shared-batched           # the Spark-vs-CLI cost on a longer job
    bench/spark_bench.py --model bench-7b --rows 16 --max-tokens 16 --runs 1 \
        --ctx-size 256                        # the brief's table with a 7B-class model
    bench/spark_bench.py --model resnet50-bench --images 256 --parallel 8
                                              # images: ResNet-50's shape, a folder of photos

Prints, per strategy and P: model loads, total load seconds, job wall time,
peak RSS and PSS per executor (sampled from outside every 0.25 s), the node's
peak PSS (all executors together), generated tokens/s, and the job time
relative to shared-batched; then Spark's tokens/s over the CLI's (target:
>= 0.9 when the CLI's job takes a minute or more, >= 0.8 on shorter ones),
and P = 32's job time over P = 2's (target <= 1.10). Medians over --runs runs.
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
# Spark's tokens/s over the CLI's: >= 0.9 on a job of a minute or more, >= 0.8
# on a shorter one (Spark's fixed start-up weighs more there).
TARGET_LONG_JOB, TARGET_SHORT_JOB, LONG_JOB_SECONDS = 0.9, 0.8, 60
STRATEGIES = ["shared-batched", "shared", "per-partition"]


def log(msg: str) -> None:
    print(f"[spark-bench] {msg}", file=sys.stderr, flush=True)


def sh(cmd: list, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], text=True, **kw)


def out_of(cmd: list) -> str:
    r = sh(cmd, stdout=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed")
    return r.stdout.strip().splitlines()[-1]


def executor_pids() -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if b"CoarseGrainedExecutorBackend" in (d / "cmdline").read_bytes():
                    pids.append(int(d.name))
            except OSError:
                pass
    return pids


class ExecutorMemory:
    """Peak Rss/Pss of each executor JVM of the running job, and the peak of
    their summed Pss (the node's share), sampled every 0.25 s."""

    def __init__(self):
        self.peak_rss: dict[int, int] = {}
        self.peak_pss: dict[int, int] = {}
        self.node_peak_pss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for pid in executor_pids():
                rss, pss = rollup(pid)
                self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), rss)
                self.peak_pss[pid] = max(self.peak_pss.get(pid, 0), pss)
                total += pss
            self.node_peak_pss = max(self.node_peak_pss, total)
            self._stop.wait(0.25)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {"executor_peak_rss": sorted(self.peak_rss.values()),
                "executor_peak_pss": sorted(self.peak_pss.values()),
                "node_peak_pss": self.node_peak_pss}


def write_rows(path: Path, n: int) -> None:
    topics = ["rivers", "mountains", "bread", "trains", "music", "gardens", "bridges", "rain"]
    with path.open("w") as f:
        for i in range(n):
            f.write(json.dumps({"id": i, "prompt":
                                f"Write two sentences about {topics[i % len(topics)]} ({i})."}) + "\n")


def write_images(folder: Path, n: int) -> None:
    """n image files, the test photos (scripts/test-photos.sh) over and over."""
    photos = Path(out_of([ROOT / "scripts" / "test-photos.sh"]))
    sources = sorted(p for p in photos.iterdir() if p.suffix in (".png", ".jpg"))
    folder.mkdir()
    for i in range(n):
        src = sources[i % len(sources)]
        os.link(src, folder / f"img-{i:05d}{src.suffix}")


def spark_run(a, spark_home: str, jar: str, model: str, rows: Path, work: Path,
              strategy: str, partitions: int) -> dict:
    summary = work / f"summary-{strategy}-{partitions}.json"
    cmd = [Path(spark_home) / "bin" / "spark-submit",
           "--master", f"local-cluster[{a.executors},{a.executor_cores},{a.executor_memory_mb}]",
           "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.host=127.0.0.1",
           "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0",
           "--class", "dev.resident.spark.ResidentJob", jar,
           "--model", model, "--input", rows, "--output", work / f"out-{strategy}-{partitions}.jsonl",
           "--strategy", strategy, "--partitions", partitions, "--threads", a.threads,
           "--summary", summary]
    if a.images:
        cmd += ["--batch-size", a.parallel]
    else:
        cmd += ["--max-tokens", a.max_tokens, "--parallel", a.parallel, "--ctx-size", a.ctx_size,
                "--weights", a.weights, "--determinism", a.determinism, "--chat"]
    if a.memory_budget:
        cmd += ["--memory-budget", a.memory_budget]
    t0 = time.monotonic()
    memory = ExecutorMemory()
    r = sh(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sampled = memory.stop()
    submit_wall = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"spark-submit failed ({strategy}, P={partitions}):\n{r.stderr[-4000:]}")
    s = json.loads(summary.read_text())
    s["submit_wall_seconds"] = submit_wall
    s.update(sampled)
    return s


def cli_run(a, resident: str, model: str, rows: Path, work: Path) -> dict:
    summary = work / "summary-cli.json"
    if a.images:
        r = sh([resident, "classify", "--model", model, "--input", rows, "--output",
                work / "out-cli.jsonl", "--batch", a.parallel, "--threads", a.executors * a.threads,
                "--progress", "none", "--summary", summary], stdout=subprocess.DEVNULL,
               stderr=subprocess.PIPE)
        if r.returncode != 0:
            sys.exit(f"resident classify failed:\n{r.stderr[-3000:]}")
        return json.loads(summary.read_text())
    r = sh([resident, "run", "--model", model, "--input", rows, "--output", work / "out-cli.jsonl",
            "--strategy", "shared-batched", "--parallel", a.parallel, "--threads",
            a.executors * a.threads, "--max-tokens", a.max_tokens, "--chat",
            "--ctx-size", a.ctx_size, "--weights", a.weights, "--determinism", a.determinism,
            "--progress", "none", "--summary", summary], stdout=subprocess.DEVNULL,
           stderr=subprocess.PIPE)
    if r.returncode != 0:
        sys.exit(f"resident run failed:\n{r.stderr[-3000:]}")
    return json.loads(summary.read_text())


def prepare(model: str) -> tuple[str, str, str, str]:
    """Builds the jar and the CLI, installs Spark, resolves the model (a path, a
    catalog name, or bench-7b); returns the jar, Spark's home, the CLI and the
    model's path."""
    jar = out_of([ROOT / "scripts" / "build-jar.sh"])
    spark_home = out_of([ROOT / "scripts" / "spark-env.sh"])
    sh(["cmake", "--preset", "release"], stdout=subprocess.DEVNULL, check=True)
    sh(["cmake", "--build", "--preset", "release", "--target", "resident"],
       stdout=subprocess.DEVNULL, check=True)
    resident = str(ROOT / "build" / "release" / "tools" / "resident" / "resident")
    if model == "bench-7b":
        return jar, spark_home, resident, out_of([sys.executable, HERE / "make_bench_model.py",
                                                  "--shape", "7b"])
    if model == "resnet50-bench":
        return jar, spark_home, resident, out_of([sys.executable, HERE / "make_resnet50.py"])
    if Path(model).exists():
        return jar, spark_home, resident, model
    return jar, spark_home, resident, out_of([resident, "models", "path", model])


def median_by_wall(runs: list[dict], key: str) -> dict:
    runs = sorted(runs, key=lambda s: s[key])
    return runs[len(runs) // 2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct",
                    help="catalog name, .gguf or .onnx path, bench-7b (Llama-2-7B's shape, made "
                    "and cached) or resnet50-bench (ResNet-50's shape; with --images)")
    ap.add_argument("--images", type=int, default=0,
                    help="classify a folder of this many images instead of generating text "
                    "(--parallel is then the images per inference call)")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--partitions", default="2,8,32")
    ap.add_argument("--parallel", type=int, default=8, help="sequences in flight per executor")
    ap.add_argument("--executors", type=int, default=2)
    ap.add_argument("--executor-cores", type=int, default=1)
    ap.add_argument("--executor-memory-mb", type=int, default=1024)
    ap.add_argument("--threads", type=int, default=0,
                    help="compute threads per executor (default: its cores); more cores than "
                    "threads gives each executor more task slots to feed its engine")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ctx-size", type=int, default=2048)
    ap.add_argument("--weights", default="auto", choices=["auto", "shared", "private"],
                    help="private needs --determinism fast")
    ap.add_argument("--determinism", default="invariant", choices=["invariant", "fast"])
    ap.add_argument("--memory-budget", default="", help="per executor, e.g. 6g (default: none)")
    ap.add_argument("--strategies", default=",".join(STRATEGIES))
    ap.add_argument("--json-out", type=Path, default=ROOT / "build" / "spark_bench.json")
    a = ap.parse_args()
    a.threads = a.threads or a.executor_cores

    jar, spark_home, resident, model = prepare(a.model)
    log(f"jar {jar}; Spark {spark_home}")

    results = []
    with tempfile.TemporaryDirectory(prefix="resident-spark-bench-") as tmp:
        work = Path(tmp)
        if a.images:
            rows = work / "images"
            write_images(rows, a.images)
        else:
            rows = work / "rows.jsonl"
            write_rows(rows, a.rows)
        cli_runs = []
        grid = [(s, int(p)) for p in a.partitions.split(",") for s in a.strategies.split(",")]
        runs = {key: [] for key in grid}
        for rep in range(a.runs):
            log(f"run {rep + 1}/{a.runs}: resident run (no Spark)")
            cli_runs.append(cli_run(a, resident, model, rows, work))
            for strategy, p in grid:
                log(f"run {rep + 1}/{a.runs}: {strategy}, P={p}")
                runs[(strategy, p)].append(spark_run(a, spark_home, jar, model, rows, work,
                                                     strategy, p))
        cli = median_by_wall(cli_runs, "wall_seconds")
        for (strategy, p), rs in runs.items():
            s = dict(median_by_wall(rs, "wall_seconds"))
            s["runs"] = [dict(r) for r in rs]
            results.append(s)

    rate = "images_per_second" if a.images else "generated_tokens_per_second"
    unit = "img/s" if a.images else "tok/s"
    cli_tps = cli[rate]
    what = f"{a.images} images" if a.images else f"{a.rows} rows, {a.max_tokens} tokens max"
    print(f"\n{what}, model {a.model}; local-cluster"
          f"[{a.executors},{a.executor_cores},{a.executor_memory_mb}], {a.threads} compute "
          f"thread(s) per executor; medians of {a.runs}")
    head = (f"{'strategy':16} {'P':>3} {'loads':>6} {'load s':>7} {'job s':>7} "
            f"{'peak RSS/exec':>14} {'peak PSS/exec':>14} {'node PSS':>10} {unit:>7} "
            f"{'job / batched':>14}")
    print(head)
    base = {r["partitions"]: r["wall_seconds"] for r in results if r["strategy"] == "shared-batched"}
    base = {p: base.get(p, float("nan")) for p in {r["partitions"] for r in results}}
    for r in results:
        peak = max((e["peak_rss_bytes"] for e in r["executors"]), default=0) / 2**20
        pss = max(r["executor_peak_pss"], default=0) / 2**20
        node = r["node_peak_pss"] / 2**20
        print(f"{r['strategy']:16} {r['partitions']:>3} {r['model_loads']:>6} "
              f"{r['load_seconds']:>7.2f} {r['wall_seconds']:>7.1f} {peak:>10.0f} MiB "
              f"{pss:>10.0f} MiB {node:>6.0f} MiB "
              f"{r[rate]:>7.1f} "
              f"{r['wall_seconds'] / base[r['partitions']]:>13.2f}x")
    print(f"\nresident {'classify' if a.images else 'run'} (no Spark, batched, "
          f"{a.executors * a.threads} threads): {cli['wall_seconds']:.1f} s, {cli_tps:.1f} {unit}")
    target = TARGET_LONG_JOB if cli["wall_seconds"] >= LONG_JOB_SECONDS else TARGET_SHORT_JOB
    batched = {r["partitions"]: r for r in results if r["strategy"] == "shared-batched"}
    for p, r in batched.items():
        ratio = r[rate] / cli_tps
        verdict = "PASS" if ratio >= target else "MISS"
        print(f"Spark shared-batched P={p} {unit} / CLI {unit} = {ratio:.2f} "
              f"(target >= {target}) {verdict}")
    if 2 in batched and 32 in batched:
        ratio = batched[32]["wall_seconds"] / batched[2]["wall_seconds"]
        print(f"shared-batched job time P=32 / P=2 = {ratio:.2f} (target <= 1.10) "
              f"{'PASS' if ratio <= 1.10 else 'MISS'}")
    a.json_out.parent.mkdir(parents=True, exist_ok=True)
    a.json_out.write_text(json.dumps({"spark": results, "cli": cli,
                                      "args": {k: str(v) for k, v in vars(a).items()}},
                                     indent=2) + "\n")
    log(f"results in {a.json_out}")


if __name__ == "__main__":
    main()
