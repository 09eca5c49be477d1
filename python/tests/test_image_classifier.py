"""ImageClassifier from Python on real photos, read with Spark's binaryFile source."""

from __future__ import annotations

import shutil

from resident.spark import ImageClassifier

PHOTOS = ["coffee.png", "chelsea.png", "rocket.jpg"]


def test_photos_get_their_classes_and_a_bad_file_its_error(spark, photos, image_model, tmp_path):
    for name in PHOTOS:
        shutil.copy(photos / name, tmp_path / name)
    (tmp_path / "notes.jpg").write_bytes(b"not an image")
    files = spark.read.format("binaryFile").load(str(tmp_path))

    classifier = ImageClassifier(model=image_model, inputCol="content", topK=3)
    rows = {r.path.rsplit("/", 1)[1]: r for r in classifier.transform(files).collect()}

    assert sorted(rows) == sorted(PHOTOS + ["notes.jpg"]), "every file gives a row"
    coffee = rows["coffee.png"]
    assert "espresso" in coffee.label, coffee
    assert coffee.score > 0.5 and coffee.error is None
    assert len(coffee.top_k) == 3 and coffee.top_k[0].label == coffee.label
    assert {"label", "index", "score"} <= set(coffee.top_k[0].asDict())
    assert "cat" in rows["chelsea.png"].label, rows["chelsea.png"]
    bad = rows["notes.jpg"]
    assert bad.label is None and bad.score is None and bad.error, bad

    metrics = classifier.lastMetrics()
    assert (metrics["total"]["rows_ok"], metrics["total"]["rows_failed"]) == (3, 1)
