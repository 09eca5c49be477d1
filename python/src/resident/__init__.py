"""Resident for Python: run language models and image classifiers over Spark DataFrames with
one resident model per executor.

The Spark API is in :mod:`resident.spark` (imported on first use, so ``import resident`` stays
light)::

    from pyspark.sql import SparkSession
    from resident.spark import TextGenerator, configure

    spark = configure(SparkSession.builder.master("local[2]")).getOrCreate()
    out = TextGenerator(model="smollm2-135m-instruct", maxTokens=64).transform(prompts)
"""

from __future__ import annotations

import importlib
from typing import Any


def _version() -> str:
    try:
        # Written into the wheel by the build backend (python/resident_build.py).
        from resident._version import __version__ as version

        return version
    except ImportError:  # a source checkout: the version of the jar beside it
        from resident import _checkout

        return _checkout.version() or "0+unknown"


__version__ = _version()
__all__ = ["__version__", "spark"]


def __getattr__(name: str) -> Any:
    if name == "spark":
        return importlib.import_module("resident.spark")
    raise AttributeError(f"module 'resident' has no attribute '{name}'")
