"""Save and load: Python to Java, Java to Python, Python to Python."""

from __future__ import annotations

from resident.spark import ImageClassifier, TextGenerator
from resident.spark._session import active_context, java_class


def java_value(java, name):
    value = java.getOrDefault(java.getParam(name))
    return value if isinstance(value, (str, int, float, bool)) else list(value)


def test_saved_from_python_loads_in_java_with_the_set_params(spark, small_model, tmp_path):
    gen = TextGenerator(
        model=small_model,
        strategy="shared",
        seed=99,
        stop=["\n", "END"],
        systemPrompt="Hi",
        maxTokens=7,
        chat=True,
        temperature=0.5,
        rowTimeout=2.5,
    )
    path = str(tmp_path / "generator")
    gen.save(path)

    java = java_class(TextGenerator._java_class).load(path)
    assert java.uid() == gen.uid
    for param in gen.params:
        if gen.isSet(param):
            assert java.isSet(java.getParam(param.name)), param.name
            assert java_value(java, param.name) == gen.getOrDefault(param), param.name
    assert not java.isSet(java.getParam("topP"))


def test_saved_from_java_loads_in_python_and_runs(spark, small_model, tmp_path):
    sc = active_context()
    java = java_class(TextGenerator._java_class)()
    stop = sc._gateway.new_array(sc._jvm.java.lang.String, 2)
    stop[0], stop[1] = "\n", "END"
    java.setModel(small_model).setMaxTokens(5).setSeed(123).setStop(stop)
    java.setStrategy("per-partition").setTemperature(0.25).setChat(True)
    path = str(tmp_path / "from-java")
    java.write().overwrite().save(path)

    gen = TextGenerator.load(path)
    assert isinstance(gen, TextGenerator) and gen.uid == java.uid()
    assert gen.getModel() == small_model
    assert (gen.getMaxTokens(), gen.getSeed(), gen.getStop()) == (5, 123, ["\n", "END"])
    assert (gen.getStrategy(), gen.getTemperature(), gen.getChat()) == (
        "per-partition",
        0.25,
        True,
    )
    assert not gen.isSet(gen.topK) and gen.getTopK() == java_value(java, "topK")

    [row] = gen.transform(spark.createDataFrame([("Name a fruit.",)], "prompt string")).collect()
    assert row.error is None and row.completion, row
    assert 0 < row.completion_tokens <= 5


def test_saved_from_python_loads_in_python(spark, small_model, image_model, tmp_path):
    gen = TextGenerator(model=small_model, maxTokens=9, stop=["."], idCol="id")
    gen.save(str(tmp_path / "generator"))
    gen.write().overwrite().save(str(tmp_path / "generator"))
    back = TextGenerator.load(str(tmp_path / "generator"))
    assert back.uid == gen.uid
    assert {p.name: back.getOrDefault(p) for p in back.params if back.isDefined(p)} == {
        p.name: gen.getOrDefault(p) for p in gen.params if gen.isDefined(p)
    }
    assert {p.name for p in back.params if back.isSet(p)} == {"model", "maxTokens", "stop", "idCol"}

    classifier = ImageClassifier(
        model=image_model, inputCol="content", topK=2, strategy="shared", batchSize=3
    )
    classifier.save(str(tmp_path / "classifier"))
    loaded = ImageClassifier.read().load(str(tmp_path / "classifier"))
    assert isinstance(loaded, ImageClassifier) and loaded.uid == classifier.uid
    assert (loaded.getModel(), loaded.getInputCol(), loaded.getTopK()) == (
        image_model,
        "content",
        2,
    )
    assert (loaded.getStrategy(), loaded.getBatchSize()) == ("shared", 3)


def test_a_pipeline_with_the_stages_saves_and_loads_in_python(spark, small_model, tmp_path):
    from pyspark.ml import Pipeline, PipelineModel

    gen = TextGenerator(model=small_model, maxTokens=4, seed=5, outputCol="text")
    df = spark.createDataFrame([(1, "Say hi.")], "id long, prompt string")
    model = Pipeline(stages=[gen]).fit(df)
    expected = model.transform(df).select("text").collect()

    model.write().overwrite().save(str(tmp_path / "model"))
    Pipeline(stages=[gen]).write().overwrite().save(str(tmp_path / "pipeline"))
    loaded = PipelineModel.load(str(tmp_path / "model"))
    (stage,) = loaded.stages
    assert isinstance(stage, TextGenerator)
    assert (stage.getMaxTokens(), stage.getSeed(), stage.getOutputCol()) == (4, 5, "text")
    assert loaded.transform(df).select("text").collect() == expected
    (again,) = Pipeline.load(str(tmp_path / "pipeline")).getStages()
    assert isinstance(again, TextGenerator) and again.getMaxTokens() == 4
