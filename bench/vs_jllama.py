#!/usr/bin/env python3
"""Resident's ready job beside java-llama.cpp (de.kherud:llama 4.2.0) on the
same Spark, the seed's comparison: local-cluster with 2 executors, SmolLM2,
64 prompts, 8 partitions, greedy, 16 tokens. Both jobs read the same input
file and write JSON lines, each timed from reading the input to the written
output (bench/jllama/JllamaJob.java is java-llama.cpp at its best: one model
per executor JVM, its server slots fed by parallel threads, no inference pass,
no shuffle).

    bench/vs_jllama.py                 # 3 runs each, alternated
    bench/vs_jllama.py --runs 1 --rows 32

Prints medians of the job time and of the whole spark-submit, and Resident's
job time over java-llama.cpp's (target <= 1.0).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from spark_bench import out_of, prepare, write_rows  # the same rows as the strategies' table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
JLLAMA = ("de.kherud", "llama", "4.2.0",
          "f8ed8a8420f0648dac695514d03bf627e8c5c8e31edcbbfd0ecee31a71dec0a9")


def log(msg: str) -> None:
    print(f"[vs-jllama] {msg}", file=sys.stderr, flush=True)


def jllama_jar() -> Path:
    group, artifact, version, sha = JLLAMA
    subprocess.run(["mvn", "-B", "-ntp", "-q", "dependency:get",
                    f"-Dartifact={group}:{artifact}:{version}"], check=True,
                   stdout=subprocess.DEVNULL)
    jar = (Path.home() / ".m2" / "repository" / group.replace(".", "/") / artifact / version /
           f"{artifact}-{version}.jar")
    got = hashlib.sha256(jar.read_bytes()).hexdigest()
    if got != sha:
        sys.exit(f"{jar} has sha256 {got}, expected {sha}")
    return jar


def build_job(spark_home: str, llama: Path, work: Path) -> Path:
    classes = work / "classes"
    classes.mkdir()
    subprocess.run(["javac", "-d", classes, "-cp", f"{spark_home}/jars/*:{llama}",
                    HERE / "jllama" / "JllamaJob.java"], check=True)
    jar = work / "jllama-job.jar"
    subprocess.run(["jar", "cf", jar, "-C", classes, "."], check=True)
    return jar


def submit(spark_home: str, a, args: list) -> tuple[float, str]:
    cmd = [Path(spark_home) / "bin" / "spark-submit",
           "--master", f"local-cluster[{a.executors},1,1024]",
           "--conf", "spark.ui.enabled=false", "--conf", "spark.driver.host=127.0.0.1",
           "--conf", "spark.scheduler.minRegisteredResourcesRatio=1.0"] + args
    t0 = time.monotonic()
    r = subprocess.run([str(c) for c in cmd], text=True, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"spark-submit failed:\n{r.stderr[-4000:]}")
    return wall, r.stdout


def lines_of(folder: Path) -> int:
    return sum(len(p.read_text().splitlines()) for p in folder.glob("part-*"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--partitions", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--parallel", type=int, default=8)
    ap.add_argument("--ctx-size", type=int, default=256, help="per sequence (slot)")
    ap.add_argument("--executors", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()

    jar, spark_home, _, model = prepare(a.model)
    llama = jllama_jar()
    results = {"resident": [], "java-llama.cpp": []}
    with tempfile.TemporaryDirectory(prefix="resident-vs-jllama-") as tmp:
        work = Path(tmp)
        job = build_job(spark_home, llama, work)
        rows = work / "rows.jsonl"
        write_rows(rows, a.rows)
        for rep in range(a.runs):
            log(f"run {rep + 1}/{a.runs}: resident")
            out, summary = work / f"resident-{rep}", work / f"resident-{rep}.json"
            submit_wall, _ = submit(spark_home, a, [
                "--class", "dev.resident.spark.ResidentJob", jar, "--model", model,
                "--input", rows, "--output", f"{out}.jsonl", "--partitions", a.partitions,
                "--max-tokens", a.max_tokens, "--temperature", 0, "--parallel", a.parallel,
                "--ctx-size", a.ctx_size, "--summary", summary])
            s = json.loads(summary.read_text())
            results["resident"].append((s["wall_seconds"], submit_wall,
                                        lines_of(Path(f"{out}.jsonl"))))
            log(f"run {rep + 1}/{a.runs}: java-llama.cpp")
            out = work / f"jllama-{rep}.jsonl"
            submit_wall, stdout = submit(spark_home, a, [
                "--jars", llama, "--class", "JllamaJob", job, model, rows, out, a.partitions,
                a.max_tokens, a.parallel, a.ctx_size, 1])
            m = re.search(r"JLLAMA_WALL_SECONDS ([0-9.]+)", stdout)
            if not m:
                sys.exit(f"the java-llama.cpp job printed no time:\n{stdout[-2000:]}")
            results["java-llama.cpp"].append((float(m.group(1)), submit_wall, lines_of(out)))

    print(f"\n{a.rows} prompts, {a.partitions} partitions, {a.max_tokens} tokens, greedy, "
          f"local-cluster[{a.executors},1,1024], model {Path(model).name}; medians of {a.runs}")
    print(f"{'job':<16} {'job s':>7} {'spark-submit s':>15} {'rows out':>9}")
    med = {}
    for name, rs in results.items():
        med[name] = statistics.median(r[0] for r in rs)
        print(f"{name:<16} {med[name]:>7.2f} {statistics.median(r[1] for r in rs):>15.2f} "
              f"{rs[0][2]:>9}")
    ratio = med["resident"] / med["java-llama.cpp"]
    print(f"\nResident job time / java-llama.cpp job time = {ratio:.2f} (target <= 1.00) "
          f"{'PASS' if ratio <= 1.0 else 'MISS'}")


if __name__ == "__main__":
    main()
