"""The Python tests' set-up, as the Java tests have it (jvm/src/test/.../SparkSessions.java,
TestModels.java, ResidentJobClusterIT.java): the user cache of scripts/lib.sh, the real models
by catalog name, the real photos of scripts/test-photos.sh, and one Spark session per master,
with the jar that resident.spark.jar_path() finds.

Spark allows one SparkContext per process, so the sessions take turns: the local[2] tests run
first, then the local-cluster ones (collection puts them last), and each master's session
starts once.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

REPO = Path(__file__).resolve().parents[2]

# scripts/lib.sh's default, for the scripts the tests run (test-photos.sh).
os.environ.setdefault(
    "RESIDENT_CACHE_DIR",
    str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "resident"),
)
# local-cluster starts its workers from SPARK_HOME: the pyspark distribution.
if not os.environ.get("SPARK_HOME"):
    import pyspark

    os.environ["SPARK_HOME"] = os.path.dirname(pyspark.__file__)

LOCAL = "local[2]"
# Two executor JVMs of one core and 1 GiB each, as ResidentJobClusterIT runs.
CLUSTER = "local-cluster[2,1,1024]"

_COMMON_CONF: Dict[str, str] = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "4",
    "spark.driver.host": "127.0.0.1",
    "spark.task.maxFailures": "1",
}
_CLUSTER_CONF: Dict[str, str] = {
    # Start only when both executors are up, so both get tasks.
    "spark.scheduler.minRegisteredResourcesRatio": "1.0",
    "spark.scheduler.maxRegisteredResourcesWaitingTime": "120s",
}


class Sessions:
    """The one running SparkSession, and the master it runs on."""

    def __init__(self) -> None:
        self.master: Optional[str] = None
        self.spark = None

    def get(self, master: str):
        from pyspark.sql import SparkSession

        import resident.spark

        if self.master == master:
            return self.spark
        self.stop()
        builder = SparkSession.builder.master(master).appName("resident-python-tests")
        conf = dict(_COMMON_CONF, **(_CLUSTER_CONF if master == CLUSTER else {}))
        for key, value in conf.items():
            builder = builder.config(key, value)
        self.spark = resident.spark.configure(builder).getOrCreate()
        self.spark.sparkContext.setLogLevel("WARN")
        self.master = master
        return self.spark

    def stop(self) -> None:
        if self.spark is not None:
            self.spark.stop()
        self.spark = None
        self.master = None


def pytest_report_header() -> List[str]:
    import resident
    import resident.spark

    return [
        f"resident {resident.__version__} from {os.path.dirname(resident.__file__)}",
        f"jar: {resident.spark.jar_path()}",
    ]


def pytest_collection_modifyitems(items: List[pytest.Item]) -> None:
    # The local-cluster tests last: the session switches master once.
    for item in items:
        if "cluster_spark" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)
    items.sort(key=lambda item: "cluster_spark" in getattr(item, "fixturenames", ()))


@pytest.fixture(scope="session")
def sessions() -> Iterator[Sessions]:
    s = Sessions()
    yield s
    s.stop()


@pytest.fixture
def spark(sessions: Sessions):
    """The local[2] session (started on first use)."""
    return sessions.get(LOCAL)


@pytest.fixture
def cluster_spark(sessions: Sessions):
    """The local-cluster[2,1,1024] session: two executor JVMs."""
    return sessions.get(CLUSTER)


@pytest.fixture(scope="session")
def small_model() -> str:
    """SmolLM2-135M-Instruct by catalog name (the model cache holds it after the first pull);
    RESIDENT_TEST_MODEL names another, as the Java tests' resident.test.model does."""
    return os.environ.get("RESIDENT_TEST_MODEL") or "smollm2-135m-instruct"


@pytest.fixture(scope="session")
def image_model() -> str:
    """EfficientNet-Lite0, the ImageNet classifier."""
    return "efficientnet-lite0"


@pytest.fixture(scope="session")
def photos() -> Path:
    """The real test photos (scripts/test-photos.sh fetches them once)."""
    out = subprocess.run(
        ["bash", str(REPO / "scripts" / "test-photos.sh")],
        check=True,
        stdout=subprocess.PIPE,
        text=True,
    )
    folder = Path(out.stdout.strip())
    assert (folder / "coffee.png").is_file(), f"no test photos in {folder}"
    return folder
