"""Finding the jar and putting it on spark.jars (no Spark session needed)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import resident.spark
from resident import _checkout
from resident.spark import _jar
from resident.spark._session import with_jar


def test_resident_jar_wins_and_a_wrong_one_is_an_error(monkeypatch, tmp_path):
    jar = tmp_path / "mine.jar"
    jar.write_bytes(b"PK")
    monkeypatch.setenv("RESIDENT_JAR", str(jar))
    assert resident.spark.jar_path() == str(jar)
    monkeypatch.setenv("RESIDENT_JAR", str(tmp_path / "absent.jar"))
    with pytest.raises(resident.spark.JarNotFoundError, match="RESIDENT_JAR=.*absent.jar"):
        resident.spark.jar_path()


def test_the_package_finds_its_own_jar(monkeypatch, tmp_path):
    monkeypatch.delenv("RESIDENT_JAR", raising=False)
    (tmp_path / "resident-spark.jar").write_bytes(b"PK")
    monkeypatch.setattr(_jar, "BUNDLED_DIR", tmp_path)
    assert resident.spark.jar_path() == str(tmp_path / "resident-spark.jar")


def test_with_no_jar_anywhere_the_error_lists_each_place_and_the_fix(monkeypatch, tmp_path):
    monkeypatch.delenv("RESIDENT_JAR", raising=False)
    monkeypatch.setattr(_jar, "BUNDLED_DIR", tmp_path)
    monkeypatch.setattr(_checkout, "root", lambda: Path("/nowhere"))
    monkeypatch.setattr(_checkout, "jars", lambda: [])
    with pytest.raises(resident.spark.JarNotFoundError) as e:
        resident.spark.jar_path()
    message = str(e.value)
    for expected in (
        "RESIDENT_JAR: not set",
        f"no {tmp_path}/*.jar",
        "jvm/target/resident-spark_2.13-*.jar",
        "scripts/build-jar.sh",
        "py3-none-linux_x86_64",
    ):
        assert expected in message, message


def test_python_m_resident_spark_prints_the_jar():
    env = {k: v for k, v in os.environ.items() if k != "RESIDENT_JAR"}
    out = subprocess.run(
        [sys.executable, "-m", "resident.spark"],
        env=env,
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert out.stdout.strip() == resident.spark.jar_path()
    assert Path(out.stdout.strip()).is_file()


def test_the_jar_is_appended_to_spark_jars_once():
    assert with_jar(None, "/x/r.jar") == "/x/r.jar"
    assert with_jar("a.jar, b.jar", "/x/r.jar") == "a.jar,b.jar,/x/r.jar"
    assert with_jar("a.jar,/x/r.jar", "/x/r.jar") == "a.jar,/x/r.jar"
