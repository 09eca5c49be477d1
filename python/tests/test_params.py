"""The Params: mirrored from Java (names, docs, types), defaults read from Java, the pyspark.ml
conventions, and bad values named at validate and transform."""

from __future__ import annotations

import pytest
from pyspark.core.context import SparkContext
from pyspark.errors import IllegalArgumentException
from pyspark.ml.param import TypeConverters

from resident.spark import ImageClassifier, TextGenerator
from resident.spark import _session
from resident.spark._session import (
    JarNotOnSessionError,
    NoSparkSessionError,
    configure,
    java_class,
    session,
)

STAGES = [TextGenerator, ImageClassifier]

# The converter each Java Param class needs (every plain Param of these stages is a string).
CONVERTERS = {
    "Param": TypeConverters.toString,
    "IntParam": TypeConverters.toInt,
    "LongParam": TypeConverters.toInt,
    "DoubleParam": TypeConverters.toFloat,
    "BooleanParam": TypeConverters.toBoolean,
    "StringArrayParam": TypeConverters.toListString,
}


def java_default(java, name):
    """A fresh Java stage's default for a Param, read through py4j; None when it has none."""
    param = java.getParam(name)
    if not java.hasDefault(param):
        return None
    value = java.getDefault(param).get()
    return value if isinstance(value, (str, int, float, bool)) else list(value)


@pytest.mark.parametrize("cls", STAGES, ids=lambda c: c.__name__)
def test_every_java_param_has_a_python_twin_with_its_name_doc_and_type(spark, cls):
    java = java_class(cls._java_class)()
    java_params = {p.name(): p for p in java.params()}
    python_params = {p.name: p for p in cls().params}

    assert sorted(python_params) == sorted(java_params)
    for name, param in python_params.items():
        assert param.doc == java_params[name].doc(), name
        kind = java_params[name].getClass().getSimpleName()
        assert param.typeConverter is CONVERTERS[kind], f"{name} is a Java {kind}"


@pytest.mark.parametrize("cls", STAGES, ids=lambda c: c.__name__)
def test_the_defaults_are_the_java_objects(spark, cls):
    java = java_class(cls._java_class)()
    stage = cls()
    for param in stage.params:
        want = java_default(java, param.name)
        if want is None:
            assert not stage.isDefined(param), f"{param.name} has no Java default"
        else:
            assert stage.getOrDefault(param) == want, param.name
            assert not stage.isSet(param), param.name


def test_getters_read_the_java_defaults(spark):
    java = java_class(TextGenerator._java_class)()
    gen = TextGenerator()
    assert gen.getMaxTokens() == java.getOrDefault(java.maxTokens())
    assert gen.getTopP() == java.getOrDefault(java.topP())
    assert gen.getSeed() == java.getOrDefault(java.seed())
    assert gen.getStop() == list(java.getOrDefault(java.stop()))
    assert gen.getStrategy() == java.getOrDefault(java.strategy())
    assert isinstance(gen.getStop(), list) and isinstance(gen.getChat(), bool)
    classifier = ImageClassifier()
    java_classifier = java_class(ImageClassifier._java_class)()
    assert classifier.getTopK() == java_classifier.getOrDefault(java_classifier.topK())
    assert classifier.getInputCol() == java_classifier.getOrDefault(java_classifier.inputCol())


def test_keyword_constructor_set_params_and_chained_setters(spark):
    gen = TextGenerator(model="m.gguf", maxTokens=16, stop=("END",), chat=True, seed=7)
    assert (gen.getModel(), gen.getMaxTokens(), gen.getStop(), gen.getChat(), gen.getSeed()) == (
        "m.gguf",
        16,
        ["END"],
        True,
        7,
    )
    assert gen.setParams(topK=5, systemPrompt="Hi") is gen
    assert (gen.getTopK(), gen.getSystemPrompt()) == (5, "Hi")
    assert gen.setTemperature(0.5).setIdCol("id").setRowTimeout(3) is gen
    assert (gen.getTemperature(), gen.getIdCol(), gen.getRowTimeout()) == (0.5, "id", 3.0)
    assert gen.isSet(gen.maxTokens) and not gen.isSet(gen.topP)

    classifier = ImageClassifier(model="efficientnet-lite0", topK=2).setBatchSize(4)
    assert (classifier.getTopK(), classifier.getBatchSize()) == (2, 4)

    with pytest.raises(TypeError, match="keyword arguments"):
        TextGenerator("m.gguf")
    with pytest.raises(TypeError, match="maxTokens"):
        TextGenerator(maxTokens="many")


def test_copy_keeps_the_params_and_applies_extra_ones(spark):
    gen = TextGenerator(model="m.gguf", maxTokens=16)
    other = gen.copy({gen.maxTokens: 5})
    assert (other.uid, other.getModel(), other.getMaxTokens()) == (gen.uid, "m.gguf", 5)
    assert gen.getMaxTokens() == 16


@pytest.mark.parametrize(
    "name,value",
    [
        ("topP", 2.0),
        ("maxTokens", -1),
        ("determinism", "sometimes"),
        ("weights", "both"),
        ("strategy", "nope"),
    ],
)
def test_a_bad_param_fails_validate_and_transform_naming_it(spark, small_model, name, value):
    gen = TextGenerator(model=small_model, **{name: value})
    with pytest.raises(IllegalArgumentException) as validated:
        gen.validateParams()
    df = spark.createDataFrame([("Say hello.",)], "prompt string")
    with pytest.raises(IllegalArgumentException) as transformed:
        gen.transform(df)
    for error in (validated.value, transformed.value):
        # The engine's checks say "Param maxTokens is invalid"; a strategy is named as such.
        named = "unknown strategy 'nope'" if name == "strategy" else f"Param {name} "
        assert named in str(error), str(error)


def test_a_missing_model_and_a_bad_classifier_param_are_named(spark):
    with pytest.raises(IllegalArgumentException, match="model"):
        TextGenerator().validateParams()
    with pytest.raises(IllegalArgumentException, match="topK"):
        ImageClassifier(model="efficientnet-lite0", topK=0).validateParams()
    with pytest.raises(IllegalArgumentException, match="batchSize"):
        ImageClassifier(model="efficientnet-lite0", batchSize=0).validateParams()


def test_last_metrics_is_none_before_any_transform(spark):
    assert TextGenerator().lastMetrics() is None
    assert ImageClassifier().lastMetrics() is None


def test_without_a_spark_context_the_error_says_how_to_start_one(monkeypatch):
    monkeypatch.setattr(SparkContext, "_active_spark_context", None)
    with pytest.raises(NoSparkSessionError, match="no SparkContext is active.*configure"):
        TextGenerator()


def test_a_class_the_jar_lacks_and_a_session_without_the_jar_are_named(spark, monkeypatch):
    with pytest.raises(JarNotOnSessionError, match="has no dev.resident.spark.NoSuchStage"):
        java_class("dev.resident.spark.NoSuchStage")
    # A JVM without the jar: no Resident class at all.
    monkeypatch.setattr(_session, "_PROBE_CLASS", "dev.resident.spark.NoSuchStage")
    with pytest.raises(JarNotOnSessionError) as e:
        java_class("dev.resident.spark.NoSuchStage")
    assert "the Resident jar is not on this session" in str(e.value)
    assert "resident.spark.configure(builder) before getOrCreate()" in str(e.value)


def test_configure_on_a_running_session_checks_it_has_the_jar(spark, monkeypatch):
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    assert configure(builder) is builder  # this session has it: nothing to add
    assert session("local[2]") is spark
    monkeypatch.setattr(_session, "_has_class", lambda jvm, name: False)
    with pytest.raises(JarNotOnSessionError, match="spark.jars is read only when a session"):
        configure(SparkSession.builder)
