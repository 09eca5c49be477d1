"""Resident on PySpark: the transformers, the jar, and the SQL functions.

``jar_path()`` needs nothing but the standard library (``python -m resident.spark`` prints it,
e.g. for ``spark-submit --jars``); the rest imports pyspark when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Dict, List

from resident.spark._jar import JarNotFoundError, jar_path

if TYPE_CHECKING:
    from resident.spark._functions import register_functions
    from resident.spark._session import (
        JarNotOnSessionError,
        NoSparkSessionError,
        configure,
        session,
    )
    from resident.spark._stages import ImageClassifier, ResidentStage, TextGenerator

# Name -> the module that defines it, imported on first use.
_LAZY: Dict[str, str] = {
    "configure": "resident.spark._session",
    "session": "resident.spark._session",
    "JarNotOnSessionError": "resident.spark._session",
    "NoSparkSessionError": "resident.spark._session",
    "ResidentStage": "resident.spark._stages",
    "TextGenerator": "resident.spark._stages",
    "ImageClassifier": "resident.spark._stages",
    "register_functions": "resident.spark._functions",
}

__all__: List[str] = ["JarNotFoundError", "jar_path", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'resident.spark' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return sorted(set(globals()) | set(__all__))
