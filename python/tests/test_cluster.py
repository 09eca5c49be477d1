"""TextGenerator on local-cluster[2,1,1024]: two executor JVMs, which get the jar through
spark.jars (resident.spark.configure)."""

from __future__ import annotations

from resident.spark import TextGenerator

ROWS = 8


def test_shared_batched_loads_the_model_once_per_executor(cluster_spark, small_model):
    # spark.range: 4 partitions with no preferred executor, so both executors get tasks.
    prompts = cluster_spark.range(0, ROWS, 1, 4).selectExpr(
        "cast(id as int) as id", "concat('Write one word about the number ', id, '.') as prompt"
    )
    gen = TextGenerator(
        model=small_model, strategy="shared-batched", maxTokens=8, ctxSize=256, idCol="id"
    )
    out = gen.transform(prompts).collect()

    assert sorted(r.id for r in out) == list(range(ROWS))
    for r in out:
        assert r.error is None and r.completion is not None, r
    metrics = gen.lastMetrics()
    assert len(metrics["executors"]) == 2, metrics["summary"]
    for executor in metrics["executors"].values():
        assert executor["model_loads"] == 1, metrics["summary"]
        assert executor["rows_ok"] > 0, metrics["summary"]
    assert metrics["total"]["rows_ok"] == ROWS and metrics["tasks"] == 4, metrics["summary"]
