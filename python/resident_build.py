"""Resident's PEP 517 build backend, written with the standard library only.

`pip install ./python` and `pip wheel ./python` need nothing from a package index: the
build has no requirements (pyproject.toml's `requires = []`). It writes

- a wheel: the `resident` package from src/resident/, a generated resident/_version.py, and
  the dist-info (METADATA, WHEEL, RECORD with sha256 digests). It carries a Resident Spark
  jar as resident/jars/resident-spark.jar, and is then tagged py3-none-linux_x86_64 because
  the jar holds x86-64 Linux native code: the jar of the `jar` config setting
  (`pip wheel --config-settings jar=PATH`), else of the RESIDENT_JAR environment variable,
  else, built from a checkout, the jar scripts/build-jar.sh made for this version
  (jvm/target/resident-spark_2.13-<version>.jar), so that `pip install ./python` after
  scripts/build-jar.sh installs a package that works wherever the checkout goes. Without
  any of them (or with `jar=none`) it is the pure py3-none-any wheel, which finds a jar at
  run time (resident.spark.jar_path());
- an sdist: the sources and PKG-INFO;
- an editable wheel (PEP 660): a .pth file that puts src/ on the path.

The version is the project version of ../jvm/pom.xml (the jar's), else PKG-INFO's (a wheel
built from an unpacked sdist), else FALLBACK_VERSION. The other metadata comes from
pyproject.toml's [project] table.
"""

from __future__ import annotations

import ast
import base64
import gzip
import hashlib
import io
import os
import re
import tarfile
import time
import zipfile
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Tuple, Union
from xml.etree import ElementTree

# The version when neither jvm/pom.xml nor PKG-INFO can be read; its one home.
FALLBACK_VERSION = "0.1.0"

NAME = "resident"
HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"
# Where the jar lands in the wheel; resident.spark.jar_path() looks in resident/jars/.
JAR_IN_WHEEL = "resident/jars/resident-spark.jar"
# The jar's native code is built for this platform only.
JAR_PLATFORM = "linux_x86_64"
# Maven's POM namespace, for reading jvm/pom.xml.
POM_NS = "http://maven.apache.org/POM/4.0.0"
# A file every Resident Spark jar has: what tells it from any other jar.
JAR_MARKER = "dev/resident/spark/TextGenerator.class"

ConfigSettings = Optional[Mapping[str, Union[str, List[str]]]]


# --- the project's metadata ---


def read_project_table(text: str) -> Dict[str, object]:
    """The [project] table of a pyproject.toml: tomllib where Python has it (3.11+), else
    a reader of the subset the file keeps to (strings and lists of strings)."""
    try:
        import tomllib
    except ImportError:
        return _read_project_subset(text)
    return dict(tomllib.loads(text).get("project", {}))


def _read_project_subset(text: str) -> Dict[str, object]:
    table: Dict[str, object] = {}
    inside = False
    pending = ""
    for line in text.splitlines():
        stripped = line.strip()
        if not pending:
            if stripped.startswith("["):
                inside = stripped == "[project]"
                continue
            if not inside or not stripped or stripped.startswith("#"):
                continue
        pending += line + "\n"
        key, _, value = pending.partition("=")
        # A TOML basic string or array of them reads as the same Python literal; an array may
        # span lines, so a statement ends where its brackets balance.
        if value.count("[") > value.count("]"):
            continue
        table[key.strip()] = ast.literal_eval(value.strip())
        pending = ""
    return table


def _project() -> Dict[str, object]:
    return read_project_table((HERE / "pyproject.toml").read_text(encoding="utf-8"))


def _pep440(version: str) -> str:
    """Maven's 1.2.0-SNAPSHOT is PEP 440's 1.2.0.dev0."""
    v = re.sub(r"-SNAPSHOT$", ".dev0", version.strip())
    if not re.fullmatch(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?", v):
        raise ValueError(f"resident_build: version '{version}' is not a PEP 440 version")
    return v


def project_version() -> str:
    pom = HERE.parent / "jvm" / "pom.xml"
    if pom.is_file():
        version = _maven_version()
        if not version:
            raise ValueError(f"resident_build: {pom} has no project <version>")
        return _pep440(version)
    pkg_info = HERE / "PKG-INFO"
    if pkg_info.is_file():
        for line in pkg_info.read_text(encoding="utf-8").splitlines():
            if line.startswith("Version:"):
                return _pep440(line.split(":", 1)[1])
    return FALLBACK_VERSION


def _metadata(version: str) -> str:
    project = _project()
    lines = [
        "Metadata-Version: 2.1",
        f"Name: {project['name']}",
        f"Version: {version}",
        f"Summary: {project.get('description', '')}",
    ]
    if "requires-python" in project:
        lines.append(f"Requires-Python: {project['requires-python']}")
    for requirement in project.get("dependencies", []):  # type: ignore[union-attr]
        lines.append(f"Requires-Dist: {requirement}")
    readme = project.get("readme")
    body = ""
    if isinstance(readme, str) and (HERE / readme).is_file():
        lines.append("Description-Content-Type: text/markdown")
        body = (HERE / readme).read_text(encoding="utf-8")
    return "\n".join(lines) + "\n\n" + body


def _wheel_file(tag: str) -> str:
    return (
        "Wheel-Version: 1.0\n"
        "Generator: resident_build\n"
        # A wheel with native code installs into platlib.
        f"Root-Is-Purelib: {'true' if tag.endswith('-any') else 'false'}\n"
        f"Tag: {tag}\n"
    )


def _dist_info(version: str) -> str:
    return f"{NAME}-{version}.dist-info"


# --- the jar ---


def _setting(config_settings: ConfigSettings, key: str) -> Optional[str]:
    value = (config_settings or {}).get(key)
    if isinstance(value, list):  # given more than once: the last one wins
        value = value[-1] if value else None
    return value


def _maven_version() -> Optional[str]:
    """The project <version> of ../jvm/pom.xml as Maven writes it (the jar's file name has
    it), or None outside a checkout."""
    pom = HERE.parent / "jvm" / "pom.xml"
    if not pom.is_file():
        return None
    node = ElementTree.parse(pom).getroot().find("m:version", {"m": POM_NS})
    return (node.text or "").strip() if node is not None else None


def checkout_jar() -> Optional[Path]:
    """The jar scripts/build-jar.sh made in this checkout for the version the wheel gets
    (a jar of another version left in jvm/target is not it), or None."""
    version = _maven_version()
    if not version:
        return None
    jar = HERE.parent / "jvm" / "target" / f"resident-spark_2.13-{version}.jar"
    return jar if jar.is_file() else None


# The `jar` config setting that asks for the pure wheel even where a jar is at hand.
NO_JAR = ("", "none")


def jar_to_bundle(config_settings: ConfigSettings = None) -> Optional[Path]:
    """The jar the wheel is to carry: the `jar` config setting, else RESIDENT_JAR, else the
    checkout's built jar (checkout_jar()); None when there is none, or the setting is
    `none` (or empty). A path given that is not a Resident Spark jar is an error."""
    setting = _setting(config_settings, "jar")
    source = "--config-settings jar"
    if setting is not None and setting.strip().lower() in NO_JAR:
        return None
    if setting is None:
        setting = os.environ.get("RESIDENT_JAR")
        source = "RESIDENT_JAR"
    if not setting:
        built = checkout_jar()
        if built is None:
            return None
        setting = str(built)
        source = "the checkout's jar"
    jar = Path(setting).expanduser().resolve()
    if not jar.is_file():
        raise FileNotFoundError(
            f"resident_build: {source}={setting} is not a file: give the jar that"
            " scripts/build-jar.sh prints (jvm/target/resident-spark_2.13-<version>.jar),"
            " or --config-settings jar=none for the pure wheel"
        )
    try:
        with zipfile.ZipFile(jar) as z:
            is_resident = JAR_MARKER in z.namelist()
    except zipfile.BadZipFile:
        is_resident = False
    if not is_resident:
        raise ValueError(
            f"resident_build: {source}={setting} is not the Resident Spark jar (it has no"
            f" {JAR_MARKER}): give the jar that scripts/build-jar.sh prints"
        )
    return jar


def _tag(jar: Optional[Path]) -> str:
    return f"py3-none-{JAR_PLATFORM}" if jar else "py3-none-any"


# --- archives ---


def _timestamp() -> int:
    """SOURCE_DATE_EPOCH when set (reproducible builds), else 1980-01-01, zip's first day:
    the same inputs give the same bytes."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "315532800"))
    return max(epoch, 315532800)


# The top-level names the wheel installs: the package, and the `dev.resident.spark` shim
# (namespace packages, no __init__.py) through which pyspark loads a saved Pipeline's stages.
TOP_LEVEL = (NAME, "dev")


def _package_files() -> Iterator[Tuple[str, Path]]:
    """(path in the archive, file) for the package's sources, sorted, without caches, without
    a stale _version.py or jars/ (the build writes both)."""
    paths = sorted(p for top in TOP_LEVEL for p in (SOURCES / top).rglob("*"))
    for path in paths:
        rel = path.relative_to(SOURCES).as_posix()
        if not path.is_file() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        if rel == f"{NAME}/_version.py" or rel.startswith(f"{NAME}/jars/"):
            continue
        yield rel, path


class _WheelWriter:
    """A wheel being written: its zip and the RECORD lines of what went in."""

    def __init__(self, path: Path) -> None:
        self._zip = zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
        self._records: List[str] = []
        self._date = time.gmtime(_timestamp())[:6]

    def _info(self, arcname: str, compress: bool) -> zipfile.ZipInfo:
        info = zipfile.ZipInfo(arcname, date_time=self._date)
        info.external_attr = 0o100644 << 16  # a regular file, rw-r--r--
        info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
        return info

    def add_bytes(self, arcname: str, data: bytes) -> None:
        self._zip.writestr(self._info(arcname, True), data)
        self._record(arcname, hashlib.sha256(data), len(data))

    def add_file(self, arcname: str, path: Path, compress: bool = True) -> None:
        digest = hashlib.sha256()
        size = 0
        info = self._info(arcname, compress)
        info.file_size = path.stat().st_size
        with path.open("rb") as src, self._zip.open(info, "w") as out:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                digest.update(chunk)
                out.write(chunk)
                size += len(chunk)
        self._record(arcname, digest, size)

    def _record(self, arcname: str, digest: "hashlib._Hash", size: int) -> None:
        b64 = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")
        self._records.append(f"{arcname},sha256={b64},{size}")

    def close(self, record_name: str) -> None:
        lines = self._records + [f"{record_name},,"]
        self._zip.writestr(self._info(record_name, True), "\n".join(lines) + "\n")
        self._zip.close()


def _write_wheel(directory: str, tag: str, fill) -> str:
    version = project_version()
    name = f"{NAME}-{version}-{tag}.whl"
    dist_info = _dist_info(version)
    target = Path(directory) / name
    partial = target.with_name(name + ".partial")
    writer = _WheelWriter(partial)
    try:
        fill(writer, version)
        writer.add_bytes(f"{dist_info}/METADATA", _metadata(version).encode("utf-8"))
        writer.add_bytes(f"{dist_info}/WHEEL", _wheel_file(tag).encode("utf-8"))
        writer.add_bytes(f"{dist_info}/top_level.txt", "".join(f"{t}\n" for t in TOP_LEVEL).encode("utf-8"))
        writer.close(f"{dist_info}/RECORD")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(target)
    return name


# --- PEP 517 hooks ---


def get_requires_for_build_wheel(config_settings: ConfigSettings = None) -> List[str]:
    return []


def get_requires_for_build_sdist(config_settings: ConfigSettings = None) -> List[str]:
    return []


def get_requires_for_build_editable(config_settings: ConfigSettings = None) -> List[str]:
    return []


def _prepare_metadata(directory: str, tag: str) -> str:
    version = project_version()
    dist_info = Path(directory) / _dist_info(version)
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(_metadata(version), encoding="utf-8")
    (dist_info / "WHEEL").write_text(_wheel_file(tag), encoding="utf-8")
    return dist_info.name


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: ConfigSettings = None
) -> str:
    return _prepare_metadata(metadata_directory, _tag(jar_to_bundle(config_settings)))


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: ConfigSettings = None
) -> str:
    return _prepare_metadata(metadata_directory, "py3-none-any")


def build_wheel(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: Optional[str] = None,
) -> str:
    jar = jar_to_bundle(config_settings)

    def fill(wheel: _WheelWriter, version: str) -> None:
        for arcname, path in _package_files():
            wheel.add_file(arcname, path)
        wheel.add_bytes(f"{NAME}/_version.py", f'__version__ = "{version}"\n'.encode("utf-8"))
        if jar is not None:
            # A jar is compressed already: stored, not deflated again.
            wheel.add_file(JAR_IN_WHEEL, jar, compress=False)

    return _write_wheel(wheel_directory, _tag(jar), fill)


def build_editable(
    wheel_directory: str,
    config_settings: ConfigSettings = None,
    metadata_directory: Optional[str] = None,
) -> str:
    # The package runs from src/; resident.spark.jar_path() finds the checkout's jar.
    def fill(wheel: _WheelWriter, version: str) -> None:
        wheel.add_bytes(f"__editable__.{NAME}.pth", f"{SOURCES}\n".encode("utf-8"))

    return _write_wheel(wheel_directory, "py3-none-any", fill)


def build_sdist(sdist_directory: str, config_settings: ConfigSettings = None) -> str:
    version = project_version()
    base = f"{NAME}-{version}"
    members: List[Tuple[str, bytes]] = [
        ("PKG-INFO", _metadata(version).encode("utf-8")),
        ("pyproject.toml", (HERE / "pyproject.toml").read_bytes()),
        ("resident_build.py", Path(__file__).read_bytes()),
    ]
    readme = _project().get("readme")
    if isinstance(readme, str) and (HERE / readme).is_file():
        members.append((readme, (HERE / readme).read_bytes()))
    for arcname, path in _package_files():
        members.append((f"src/{arcname}", path.read_bytes()))

    name = f"{base}.tar.gz"
    target = Path(sdist_directory) / name
    mtime = _timestamp()
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=mtime) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for arcname, data in sorted(members):
                info = tarfile.TarInfo(f"{base}/{arcname}")
                info.size = len(data)
                info.mtime = mtime
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    target.write_bytes(buffer.getvalue())
    return name
