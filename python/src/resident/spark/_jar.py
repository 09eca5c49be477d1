"""Finding the Resident Spark jar (the standard library only: usable without pyspark, e.g. to
build a spark-submit command line)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import List

from resident import _checkout

# Where the platform wheel puts the jar (python/resident_build.py's JAR_IN_WHEEL).
BUNDLED_DIR = Path(__file__).resolve().parent.parent / "jars"


class JarNotFoundError(FileNotFoundError):
    """No Resident Spark jar where one was looked for; the message lists each place."""


def jar_path() -> str:
    """The absolute path of the Resident Spark jar that sessions should load.

    Looked for, in order:

    1. the environment variable ``RESIDENT_JAR`` (an explicit choice wins; a path there that is
       not a file is an error, not a reason to look further);
    2. the jar the installed package carries (``resident/jars/*.jar``: the platform wheel);
    3. a source checkout's ``jvm/target/resident-spark_2.13-*.jar`` (scripts/build-jar.sh),
       when the package runs from one.

    Raises :class:`JarNotFoundError` listing every place tried and how to get a jar.
    """
    env = os.environ.get("RESIDENT_JAR", "")
    if env:
        path = Path(env).expanduser()
        if path.is_file():
            return str(path.resolve())
        raise JarNotFoundError(
            f"RESIDENT_JAR={env} is not a file: point it at the Resident Spark jar"
            " (scripts/build-jar.sh prints its path), or unset it to use the jar the package"
            " carries"
        )

    tried: List[str] = ["RESIDENT_JAR: not set"]
    bundled = sorted(BUNDLED_DIR.glob("*.jar"))
    if bundled:
        return str(bundled[0])
    tried.append(f"the package's own jar: no {BUNDLED_DIR}/*.jar (this is the pure wheel)")

    if _checkout.root() is not None:
        built = _checkout.jars()
        if built:
            return str(built[0])
        tried.append(f"the source checkout: no {_checkout.jar_pattern()} (not built yet)")
    else:
        tried.append(f"a source checkout: {BUNDLED_DIR.parent} is not in one")

    raise JarNotFoundError(
        "no Resident Spark jar found; tried:\n  - "
        + "\n  - ".join(tried)
        + "\nFix: in a checkout, build it with scripts/build-jar.sh, then install the package"
        " again (pip install ./python carries the jar it finds built); or install the platform"
        " wheel that carries it (python/build_wheel.sh, then pip install"
        " resident-<version>-py3-none-linux_x86_64.whl); or set RESIDENT_JAR to the jar's path"
    )
