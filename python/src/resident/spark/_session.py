"""Putting the jar on a Spark session, and reaching its classes through py4j with errors that
say what to do."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, List, Mapping, Optional

from py4j.java_gateway import JavaClass
from pyspark.core.context import SparkContext
from pyspark.sql import SparkSession

import resident
from resident.spark._jar import jar_path

if TYPE_CHECKING:
    from py4j.java_gateway import JVMView

# A class every Resident jar has: whether the jar is on a JVM at all.
_PROBE_CLASS = "dev.resident.spark.TextGenerator"
_HOW = (
    "build the session with resident.spark.configure(builder) before getOrCreate()"
    " (or use resident.spark.session())"
)


class NoSparkSessionError(RuntimeError):
    """No SparkContext is active in this Python process."""


class JarNotOnSessionError(RuntimeError):
    """The Spark session's JVM cannot load the Resident classes (or this jar lacks one)."""


def active_context() -> SparkContext:
    """The active SparkContext; NoSparkSessionError saying how to start one."""
    from pyspark.sql.utils import is_remote

    if is_remote():
        raise NoSparkSessionError(
            "Resident's Python API runs on a classic Spark session (py4j), not on Spark"
            " Connect: start one with resident.spark.session() or"
            " resident.spark.configure(SparkSession.builder).getOrCreate()"
        )
    sc = SparkContext._active_spark_context
    if sc is None or sc._jsc is None:
        raise NoSparkSessionError(
            "no SparkContext is active: start a session first with resident.spark.session(),"
            " or resident.spark.configure(SparkSession.builder).getOrCreate()"
        )
    return sc


def _lookup(jvm: "JVMView", name: str) -> object:
    obj: object = jvm
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def _has_class(jvm: "JVMView", name: str) -> bool:
    return isinstance(_lookup(jvm, name), JavaClass)


def java_class(name: str) -> JavaClass:
    """A Resident class of the active session's JVM, e.g. ``dev.resident.spark.TextGenerator``.

    Raises NoSparkSessionError without a session, and JarNotOnSessionError when the JVM lacks
    the jar (or has an older jar without this class), with the fix.
    """
    sc = active_context()
    jvm = sc._jvm
    assert jvm is not None
    found = _lookup(jvm, name)
    if isinstance(found, JavaClass):
        return found
    if name != _PROBE_CLASS and _has_class(jvm, _PROBE_CLASS):
        raise JarNotOnSessionError(
            f"this session's Resident jar has no {name}: the jar is older than this Python"
            f" package (resident {resident.__version__}); put the jar the package finds on the"
            f" session ({_describe_jar()}), or rebuild it with scripts/build-jar.sh"
        )
    raise JarNotOnSessionError(
        f"{name} is not on this session's JVM: the Resident jar is not on this session: {_HOW}."
        " A session that started without it must be stopped first, and a Python process whose"
        f" JVM started without it restarted. The jar: {_describe_jar()}"
    )


def _describe_jar() -> str:
    try:
        return jar_path()
    except FileNotFoundError as e:
        return f"none found ({e})"


def _entries(value: Optional[str]) -> List[str]:
    return [j.strip() for j in (value or "").split(",") if j.strip()]


def _is_resident_jar(entry: str, path: str) -> bool:
    local = entry[len("file:") :] if entry.startswith("file:") else entry
    return local == path or os.path.basename(local).startswith("resident-spark")


def with_jar(jars: Optional[str], path: str) -> str:
    """A ``spark.jars`` value: ``jars`` with ``path`` appended unless it is there already."""
    entries = _entries(jars)
    if path not in entries:
        entries.append(path)
    return ",".join(entries)


def _check_running(sc: SparkContext, path: str) -> None:
    """Raises unless the running context's driver and executors can load the jar."""
    assert sc._jvm is not None
    driver_ok = _has_class(sc._jvm, _PROBE_CLASS)
    master = sc.master or ""
    # Plain local mode runs tasks in the driver JVM; every other master ships spark.jars.
    in_driver = master == "local" or master.startswith("local[")
    shipped = any(_is_resident_jar(e, path) for e in _entries(sc.getConf().get("spark.jars")))
    if driver_ok and (in_driver or shipped):
        return
    raise JarNotOnSessionError(
        "a SparkContext is already running without the Resident jar"
        + ("" if driver_ok else " (its driver cannot load dev.resident.spark classes)")
        + ": spark.jars is read only when a session starts. Stop it (spark.stop()), then "
        + _HOW
        + f"; or start pyspark/spark-submit with --jars {path}"
    )


def configure(
    builder: SparkSession.Builder, jar: Optional[str] = None
) -> SparkSession.Builder:
    """Adds the Resident jar to ``builder``'s ``spark.jars`` (after any jars already there)
    and returns the builder, for ``configure(SparkSession.builder...).getOrCreate()``.

    ``jar`` defaults to :func:`jar_path`. ``spark.jars`` counts only when a session starts:
    with a SparkContext already running, the builder is returned unchanged when that context
    has the jar, and JarNotOnSessionError is raised when it does not.
    """
    path = os.path.abspath(jar or jar_path())
    if not os.path.isfile(path):
        raise FileNotFoundError(f"resident.spark.configure: the jar {path} is not a file")
    sc = SparkContext._active_spark_context
    if sc is not None and sc._jsc is not None:
        _check_running(sc, path)
        return builder
    jvm = SparkContext._jvm
    if jvm is not None and not _has_class(jvm, _PROBE_CLASS):
        # pyspark keeps one JVM per Python process; its class path was fixed when it started.
        raise JarNotOnSessionError(
            "this Python process's JVM started without the Resident jar (a Spark session ran"
            " and stopped here before): the driver cannot load the jar now. Restart Python"
            " and call resident.spark.configure(builder) before the first getOrCreate()"
        )
    current = builder._options.get("spark.jars")
    return builder.config("spark.jars", with_jar(None if current is None else str(current), path))


def session(
    master: Optional[str] = None,
    app_name: str = "resident",
    config: Optional[Mapping[str, str]] = None,
) -> SparkSession:
    """A Spark session with the Resident jar: ``master`` (e.g. ``"local[2]"``; None keeps
    spark-submit's or Spark's default), ``app_name``, and any other ``config`` settings."""
    builder = SparkSession.builder.appName(app_name)
    if master is not None:
        builder = builder.master(master)
    for key, value in (config or {}).items():
        builder = builder.config(key, value)
    return configure(builder).getOrCreate()
