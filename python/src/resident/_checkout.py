"""Facts about the source checkout this package runs from, when it runs from one (the tests,
an editable install, PYTHONPATH=python/src); none of them apply to an installed wheel."""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional

# python/src/resident/_checkout.py: the repository is four folders up.
_ROOT = Path(__file__).resolve().parents[3]


def root() -> Optional[Path]:
    """The repository's root, or None when the package is not in a checkout."""
    if (_ROOT / "jvm" / "pom.xml").is_file() and (_ROOT / "python" / "src" / "resident").is_dir():
        return _ROOT
    return None


def jar_pattern() -> str:
    """Where scripts/build-jar.sh puts the jar, as a glob (for messages and the search)."""
    return str(_ROOT / "jvm" / "target" / "resident-spark_2.13-*.jar")


def jars() -> List[Path]:
    """The checkout's built jars, newest first; not the -sources or -javadoc ones."""
    if root() is None:
        return []
    found = [
        p
        for p in _ROOT.joinpath("jvm", "target").glob("resident-spark_2.13-*.jar")
        if not re.search(r"-(sources|javadoc|tests)\.jar$", p.name)
    ]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def version() -> Optional[str]:
    """The project version in jvm/pom.xml (the jar's), PEP 440 spelled; None outside a checkout."""
    if root() is None:
        return None
    pom = (_ROOT / "jvm" / "pom.xml").read_text(encoding="utf-8")
    # The project's own <version> follows its <artifactId>, before any <properties>.
    m = re.search(r"<artifactId>resident-spark[^<]*</artifactId>\s*<version>([^<]+)</version>", pom)
    return re.sub(r"-SNAPSHOT$", ".dev0", m.group(1).strip()) if m else None
