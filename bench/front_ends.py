#!/usr/bin/env python3
"""The front ends side by side on one Spark session: the same rows through the Java
TextGenerator (driven over py4j), the Python TextGenerator and the SQL function
resident_generate, each run --runs times in rotating turns. Prints, per front end, the
median wall time and generated tokens/s, its ratio to the Java stage's, and whether every
front end gave every row the same text (the row contract, docs/rows.md).

    ~/.cache/resident/venv-spark/bin/python bench/front_ends.py        # after scripts/test-python.sh
    ... bench/front_ends.py --rows 128 --max-tokens 32 --partitions 4 --master local[2]

Run it with the Python of scripts/test-python.sh's venv (pyspark and the resident package with
its jar are installed there). The Python stage only forwards to the Java one, so its ratio
should be ~1.0; the SQL function keeps one row in flight per task (Spark calls a UDF row by
row), so the executor's batch engine fills only from its concurrent tasks.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Dict, List, Tuple

from pyspark.sql import DataFrame, SparkSession

import resident.spark as rs

MODEL = "smollm2-135m-instruct"
QUESTIONS = [
    "What is the capital of France?", "Name a colour.", "What is 2 plus 2?", "Say hello.",
    "Name a fruit.", "What is water made of?", "Name a planet.", "What do cats eat?",
]  # fmt: skip


def rows(n: int) -> List[Tuple[int, str]]:
    return [(i, f"{QUESTIONS[i % len(QUESTIONS)]} ({i})") for i in range(n)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--model", default=MODEL)
    a = ap.parse_args()

    spark = rs.configure(SparkSession.builder.master(a.master).appName("front-ends")).getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    df = spark.createDataFrame(rows(a.rows), "id long, prompt string").repartition(a.partitions)
    df = df.sortWithinPartitions("id").cache()
    df.count()
    df.createOrReplaceTempView("bench_rows")
    rs.register_functions(spark)
    settings = {"maxTokens": a.max_tokens, "temperature": 0.8, "seed": 7, "chat": True}

    def java() -> DataFrame:
        gen = spark.sparkContext._jvm.dev.resident.spark.TextGenerator().setModel(a.model)
        gen = gen.setMaxTokens(a.max_tokens).setTemperature(0.8).setSeed(7).setChat(True)
        return DataFrame(gen.transform(df._jdf), spark)

    def python() -> DataFrame:
        return rs.TextGenerator(model=a.model, **settings).transform(df)

    def sql() -> DataFrame:
        options = ", ".join(f"'{k}', '{str(v).lower()}'" for k, v in settings.items())
        return spark.sql(
            "SELECT id, r.completion, r.completion_tokens FROM (SELECT id, resident_generate("
            f"prompt, map('model', '{a.model}', {options}, 'id', CAST(id AS STRING))) AS r "
            "FROM bench_rows)"
        )

    runs: Dict[str, Callable[[], DataFrame]] = {"java": java, "python": python, "sql": sql}
    walls: Dict[str, List[float]] = {k: [] for k in runs}
    tokens: Dict[str, int] = {}
    texts: Dict[str, Dict[int, str]] = {}
    java().select("id").collect()  # warm: the model loads once per executor, before timing
    for r in range(a.runs):
        order = list(runs)[r % len(runs):] + list(runs)[: r % len(runs)]  # rotating turns
        for name in order:
            t0 = time.monotonic()
            out = runs[name]().select("id", "completion", "completion_tokens").collect()
            walls[name].append(time.monotonic() - t0)
            tokens[name] = sum(row.completion_tokens or 0 for row in out)
            texts[name] = {row.id: row.completion for row in out}

    base = statistics.median(walls["java"])
    print(f"{a.rows} rows, {a.partitions} partitions, max {a.max_tokens} tokens, temperature "
          f"0.8, {a.master}; medians of {a.runs} runs")  # fmt: skip
    print(f"{'front end':<10} | {'wall s':>7} | {'gen tok/s':>9} | {'wall / java':>11}")
    for name in runs:
        w = statistics.median(walls[name])
        print(f"{name:<10} | {w:>7.2f} | {tokens[name] / w:>9.1f} | {w / base:>10.2f}x")
    same = all(texts[n] == texts["java"] for n in runs)
    print(f"same text for every row in every front end: {'yes' if same else 'NO'}")
    spark.stop()


if __name__ == "__main__":
    main()
