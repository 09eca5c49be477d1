"""The row contract (docs/rows.md): one file of rows through every front end gives the same text.

The rows have integer ids or none, text or chat prompts; the job has a template, a system
prompt, temperature 0.8 and one base seed. The command line, the Java TextGenerator on Spark,
the Python TextGenerator and the SQL function must give every row the same completion.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Dict, List, Optional

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql.types import (
    ArrayType,
    LongType,
    StringType,
    StructField,
    StructType,
)

import resident.spark as rs

MODEL = "smollm2-135m-instruct"
TEMPLATE = "Answer in a few words. {prompt}"
SYSTEM = "You are a terse assistant."
SEED = 7
MAX_TOKENS = 10

ROWS: List[dict] = [
    {"id": 1, "prompt": "Name a colour."},
    {"id": 2, "prompt": "Name a fruit."},
    {"id": 3, "prompt": [{"role": "user", "content": "Say hello in French."}]},
    {
        "id": 4,
        "prompt": [
            {"role": "user", "content": "Pick a number."},
            {"role": "assistant", "content": "Seven."},
            {"role": "user", "content": "Another one?"},
        ],
    },
    {"prompt": "Name a river."},  # no id: keyed by its prompt
    {"prompt": [{"role": "user", "content": "Name a planet."}]},
    {"id": 7, "prompt": "Name a fruit."},  # the prompt of row 2, another id: its own seed
]

MESSAGES = ArrayType(
    StructType([StructField("role", StringType()), StructField("content", StringType())])
)


def _key(row: dict) -> str:
    """The test's name for a row: its id, else its position in ROWS."""
    return f"id {row['id']}" if "id" in row else f"row {ROWS.index(row)}"


def _cli() -> str:
    path = os.environ.get("RESIDENT_CLI") or str(
        Path(__file__).resolve().parents[2] / "build" / "release" / "tools" / "resident" / "resident"
    )
    if not os.access(path, os.X_OK):
        pytest.fail(f"no resident CLI at {path}: build the release preset or set RESIDENT_CLI")
    return path


def _through_cli(tmp_path: Path) -> Dict[str, str]:
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    out = tmp_path / "out.jsonl"
    subprocess.run(
        [_cli(), "run", "-m", MODEL, "-i", str(src), "-o", str(out),
         "-n", str(MAX_TOKENS), "--temperature", "0.8", "--seed", str(SEED),
         "--prompt-template", TEMPLATE, "--system", SYSTEM, "--progress", "none"],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    got = {}
    for line, row in zip(out.read_text().splitlines(), ROWS):
        result = json.loads(line)
        assert result["error"] is None, result
        got[_key(row)] = result["completion"]
    return got


def _frames(spark: SparkSession) -> List[DataFrame]:
    """The rows as two DataFrames (a column has one type): text prompts and chats."""
    text = [(r.get("id"), r["prompt"]) for r in ROWS if isinstance(r["prompt"], str)]
    chat = [(r.get("id"), r["prompt"]) for r in ROWS if not isinstance(r["prompt"], str)]
    return [
        spark.createDataFrame(text, StructType([StructField("id", LongType()),
                                                StructField("prompt", StringType())])),
        spark.createDataFrame(chat, StructType([StructField("id", LongType()),
                                                StructField("prompt", MESSAGES)])),
    ]  # fmt: skip


def _by_row(results: List[tuple]) -> Dict[str, str]:
    """{row name: completion} from (id, prompt, completion, error) tuples."""
    got = {}
    for id_, prompt, completion, error in results:
        assert error is None, (id_, prompt, error)
        as_json = prompt if isinstance(prompt, str) else [m.asDict() for m in prompt]
        row = next(r for r in ROWS if r.get("id") == id_ and r["prompt"] == as_json)
        got[_key(row)] = completion
    return got


def _through_python(spark: SparkSession) -> Dict[str, str]:
    gen = rs.TextGenerator(
        model=MODEL, idCol="id", maxTokens=MAX_TOKENS, temperature=0.8, seed=SEED,
        promptTemplate=TEMPLATE, systemPrompt=SYSTEM,
    )  # fmt: skip
    rows = []
    for df in _frames(spark):
        rows += [tuple(r) for r in gen.transform(df).select("id", "prompt", "completion", "error")
                 .collect()]  # fmt: skip
    return _by_row(rows)


def _through_java(spark: SparkSession) -> Dict[str, str]:
    jvm = spark.sparkContext._jvm
    gen = (
        jvm.dev.resident.spark.TextGenerator()
        .setModel(MODEL)
        .setIdCol("id")
        .setMaxTokens(MAX_TOKENS)
        .setTemperature(0.8)
        .setSeed(SEED)
        .setPromptTemplate(TEMPLATE)
        .setSystemPrompt(SYSTEM)
    )
    rows = []
    for df in _frames(spark):
        out = DataFrame(gen.transform(df._jdf), spark).select("id", "prompt", "completion", "error")
        rows += [tuple(r) for r in out.collect()]
    return _by_row(rows)


def _through_sql(spark: SparkSession) -> Dict[str, str]:
    rs.register_functions(spark)
    options = (
        f"map('model', '{MODEL}', 'maxTokens', '{MAX_TOKENS}', 'temperature', '0.8', "
        f"'seed', '{SEED}', 'promptTemplate', '{TEMPLATE}', 'systemPrompt', '{SYSTEM}', "
        "'id', CAST(id AS STRING))"
    )
    rows = []
    for i, df in enumerate(_frames(spark)):
        df.createOrReplaceTempView(f"contract_rows_{i}")
        out = spark.sql(
            f"SELECT id, prompt, r.completion, r.error FROM "
            f"(SELECT id, prompt, resident_generate(prompt, {options}) AS r FROM contract_rows_{i})"
        )
        rows += [tuple(r) for r in out.collect()]
    return _by_row(rows)


def test_one_file_gives_the_same_text_in_every_front_end(spark, tmp_path):
    cli = _through_cli(tmp_path)
    assert len(cli) == len(ROWS)
    assert all(text for text in cli.values()), cli
    # Sampling at 0.8 really varies by key: rows 2 and 7 share a prompt, not a seed.
    assert len(set(cli.values())) > 1, cli
    java = _through_java(spark)
    python = _through_python(spark)
    sql = _through_sql(spark)
    for name, got in (("Java on Spark", java), ("PySpark", python), ("SQL", sql)):
        diff = {k: (cli[k], got.get(k)) for k in cli if got.get(k) != cli[k]}
        assert not diff, f"{name} differs from the CLI (cli, {name}): {diff}"
