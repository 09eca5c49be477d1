"""The SQL function resident_generate, registered from Python."""

from __future__ import annotations

import pytest
from py4j.java_gateway import JavaClass

from resident.spark import register_functions

FUNCTIONS = "dev.resident.spark.ResidentFunctions"


def test_resident_generate_completes_every_row(spark, small_model):
    if not isinstance(spark._jvm.dev.resident.spark.ResidentFunctions, JavaClass):
        pytest.skip(f"the jar has no {FUNCTIONS} yet (the Java side of resident_generate)")
    register_functions(spark)
    prompts = ["Say hello.", "Name a color.", "Name a fruit."]
    spark.createDataFrame([(p,) for p in prompts], "prompt string").createOrReplaceTempView("t")

    rows = spark.sql(
        "SELECT prompt, resident_generate(prompt,"
        f" map('model', '{small_model}', 'maxTokens', '8')) AS r FROM t"
    ).collect()

    assert sorted(row.prompt for row in rows) == sorted(prompts)
    for row in rows:
        assert row.r.error is None, row
        assert row.r.completion is not None, row
        assert row.r.prompt_tokens > 0 and 0 < row.r.completion_tokens <= 8, row
