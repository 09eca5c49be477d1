"""The build backend: the platform wheel with the jar (checked and installed in a throwaway
venv), the pure wheel, the sdist and a wheel built from it, the editable wheel."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Dict, Optional, Tuple

import pytest

import resident
import resident.spark

PYTHON_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PYTHON_DIR))
import resident_build  # noqa: E402  (the backend, from python/)


def build_wheel(source: Path, out: Path, jar: Optional[str], *settings: str) -> Path:
    env = {k: v for k, v in os.environ.items() if k != "RESIDENT_JAR"}
    if jar:
        env["RESIDENT_JAR"] = jar
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check"]
        + [f"--config-settings={s}" for s in settings]
        + ["-w", str(out), str(source)],
        env=env,
        check=True,
    )
    [wheel] = out.glob("*.whl")
    return wheel


def verified_files(wheel: Path) -> Dict[str, bytes]:
    """The wheel's files, after checking each against its RECORD line (and none unlisted)."""
    with zipfile.ZipFile(wheel) as z:
        files = {name: z.read(name) for name in z.namelist()}
    [record_name] = [n for n in files if n.endswith(".dist-info/RECORD")]
    listed = set()
    for path, digest, size in csv.reader(io.StringIO(files[record_name].decode())):
        listed.add(path)
        if path == record_name:
            assert (digest, size) == ("", "")
            continue
        algorithm, _, value = digest.partition("=")
        assert algorithm == "sha256", path
        want = base64.urlsafe_b64encode(hashlib.sha256(files[path]).digest()).rstrip(b"=")
        assert value == want.decode(), f"{path}: RECORD's hash does not match"
        assert int(size) == len(files[path]), path
    assert listed == set(files), "every file in RECORD, and RECORD complete"
    return files


def test_the_platform_wheel_carries_the_jar_and_installs(tmp_path):
    jar = resident.spark.jar_path()
    wheel = build_wheel(PYTHON_DIR, tmp_path / "dist", jar)
    version = resident.__version__
    assert wheel.name == f"resident-{version}-py3-none-linux_x86_64.whl"

    files = verified_files(wheel)
    assert files["resident/jars/resident-spark.jar"] == Path(jar).read_bytes()
    assert files["resident/_version.py"].decode() == f'__version__ = "{version}"\n'
    assert "resident/spark/_stages.py" in files
    metadata = files[f"resident-{version}.dist-info/METADATA"].decode()
    assert "Name: resident\n" in metadata and f"Version: {version}\n" in metadata
    assert "Requires-Dist: pyspark[ml]>=4.0\n" in metadata
    wheel_file = files[f"resident-{version}.dist-info/WHEEL"].decode()
    assert "Tag: py3-none-linux_x86_64\n" in wheel_file
    assert "Root-Is-Purelib: false\n" in wheel_file

    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
    )
    python = venv / "bin" / "python"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
        + ["--disable-pip-version-check", str(wheel)],
        check=True,
    )
    env = {k: v for k, v in os.environ.items() if k not in ("RESIDENT_JAR", "PYTHONPATH")}
    out = subprocess.run(
        [python, "-c", "import resident; print(resident.spark.jar_path(), resident.__version__)"],
        env=env,
        cwd=tmp_path,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    path, installed_version = out.stdout.split()
    assert path.startswith(str(venv)) and path.endswith("resident/jars/resident-spark.jar")
    assert installed_version == version


def test_without_a_jar_the_wheel_is_pure(tmp_path):
    # jar=none: the pure wheel even in a checkout whose jar is built.
    wheel = build_wheel(PYTHON_DIR, tmp_path, None, "jar=none")
    assert wheel.name == f"resident-{resident.__version__}-py3-none-any.whl"
    files = verified_files(wheel)
    assert not [n for n in files if n.startswith("resident/jars/")]
    wheel_file = files[f"resident-{resident.__version__}.dist-info/WHEEL"].decode()
    assert "Root-Is-Purelib: true\n" in wheel_file


def test_a_wheel_built_from_the_sdist_has_its_version(tmp_path):
    name = resident_build.build_sdist(str(tmp_path))
    version = resident.__version__
    assert name == f"resident-{version}.tar.gz"
    with tarfile.open(tmp_path / name) as tar:
        members = set(tar.getnames())
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(tmp_path / "unpacked", **safe)
    base = f"resident-{version}"
    for expected in ("PKG-INFO", "pyproject.toml", "resident_build.py", "README.md"):
        assert f"{base}/{expected}" in members
    assert f"{base}/src/resident/spark/_stages.py" in members

    # No jvm/pom.xml beside the unpacked sdist: the version comes from PKG-INFO.
    wheel = build_wheel(tmp_path / "unpacked" / base, tmp_path / "dist", None)
    assert wheel.name == f"resident-{version}-py3-none-any.whl"


def fake_checkout(root: Path) -> Tuple[Path, bytes]:
    """A checkout of this package (python/ and jvm/pom.xml) whose jar is built: a stand-in jar
    (any zip with the marker class) at the path scripts/build-jar.sh writes, beside a jar of
    another version that is not to be taken. Returns python/ and the jar's bytes."""
    python = root / "python"
    shutil.copytree(
        PYTHON_DIR, python, ignore=shutil.ignore_patterns("tests", "__pycache__", "*.pyc", "jars")
    )
    (root / "jvm" / "target").mkdir(parents=True)
    shutil.copy(PYTHON_DIR.parent / "jvm" / "pom.xml", root / "jvm" / "pom.xml")
    maven_version = resident_build._maven_version()
    jars = {}
    for version in (maven_version, "0.0.1"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as z:
            z.writestr(resident_build.JAR_MARKER, f"built for {version}")
        jars[version] = buffer.getvalue()
        (root / "jvm" / "target" / f"resident-spark_2.13-{version}.jar").write_bytes(jars[version])
    return python, jars[maven_version]


def test_pip_install_of_a_checkout_with_its_jar_built_carries_the_jar(tmp_path):
    # The README's steps: scripts/build-jar.sh, then `pip install ./python` (not editable, no
    # RESIDENT_JAR): the package installed works on its own, the checkout gone.
    python_dir, jar = fake_checkout(tmp_path / "checkout")
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
    )
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k not in ("RESIDENT_JAR", "PYTHONPATH")}
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
        + ["--disable-pip-version-check", "./python"],
        env=env,
        cwd=tmp_path / "checkout",
        check=True,
    )
    shutil.rmtree(tmp_path / "checkout")
    out = subprocess.run(
        [python, "-c", "import resident.spark; print(resident.spark.jar_path())"],
        env=env,
        cwd=tmp_path,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    path = Path(out.stdout.strip())
    assert path.is_relative_to(venv.resolve()) and path.name == "resident-spark.jar", path
    assert path.read_bytes() == jar, "the jar of the checkout's version, not the other one"


def test_which_jar_the_wheel_carries(tmp_path, monkeypatch):
    python_dir, _ = fake_checkout(tmp_path)
    built = tmp_path / "jvm" / "target" / f"resident-spark_2.13-{resident_build._maven_version()}.jar"
    monkeypatch.setattr(resident_build, "HERE", python_dir)
    monkeypatch.delenv("RESIDENT_JAR", raising=False)
    assert resident_build.jar_to_bundle() == built.resolve()
    assert resident_build.jar_to_bundle({"jar": "none"}) is None
    assert resident_build.jar_to_bundle({"jar": ""}) is None
    other = tmp_path / "jvm" / "target" / "resident-spark_2.13-0.0.1.jar"
    monkeypatch.setenv("RESIDENT_JAR", str(other))
    assert resident_build.jar_to_bundle() == other.resolve(), "RESIDENT_JAR wins"
    assert resident_build.jar_to_bundle({"jar": "none"}) is None, "and jar=none over it"
    monkeypatch.delenv("RESIDENT_JAR")
    built.unlink()
    assert resident_build.jar_to_bundle() is None, "no jar built: the pure wheel"


def test_the_editable_wheel_points_at_the_sources(tmp_path):
    name = resident_build.build_editable(str(tmp_path))
    files = verified_files(tmp_path / name)
    assert files["__editable__.resident.pth"].decode().strip() == str(PYTHON_DIR / "src")


def test_a_jar_that_is_not_residents_is_refused(tmp_path):
    other = tmp_path / "other.jar"
    with zipfile.ZipFile(other, "w") as z:
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    with pytest.raises(ValueError, match="not the Resident Spark jar"):
        resident_build.jar_to_bundle({"jar": str(other)})
    with pytest.raises(FileNotFoundError, match="jar=.*absent.jar is not a file"):
        resident_build.jar_to_bundle({"jar": str(tmp_path / "absent.jar")})


def test_the_pyproject_reader_without_tomllib_agrees_with_tomllib():
    import tomllib

    text = (PYTHON_DIR / "pyproject.toml").read_text()
    assert resident_build._read_project_subset(text) == tomllib.loads(text)["project"]
