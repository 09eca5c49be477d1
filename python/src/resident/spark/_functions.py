"""Resident's SQL functions."""

from __future__ import annotations

from typing import Optional

from pyspark.sql import SparkSession

from resident.spark._session import active_context, java_class


def register_functions(spark: Optional[SparkSession] = None) -> None:
    """Registers Resident's SQL functions on ``spark`` (default: the active session), e.g.
    ``resident_generate(prompt, map('model', 'smollm2-135m-instruct', 'maxTokens', '8'))``,
    which returns ``struct<completion, prompt_tokens, completion_tokens, finish_reason,
    error>``. Raises JarNotOnSessionError when the session lacks the jar (or has one that
    predates the functions)."""
    active_context()
    if spark is None:
        spark = SparkSession.active()
    java_class("dev.resident.spark.ResidentFunctions").register(spark._jsparkSession)
