"""TextGenerator end to end in local[2] on the real small model."""

from __future__ import annotations

from resident.spark import TextGenerator

QUESTIONS = [
    "What is the capital of France?",
    "Name a color.",
    "What is 2 plus 2?",
    "Say hello.",
    "Name a fruit.",
    "Name a planet.",
]
SCHEMA = "id int, prompt string, tag string"


def generator(model: str, **params) -> TextGenerator:
    return TextGenerator(model=model, maxTokens=12, ctxSize=512, **params)


def test_every_row_gets_a_completion_and_the_same_rows_get_the_same_text(spark, small_model):
    rows = [(i, q, f"t{i}") for i, q in enumerate(QUESTIONS)]
    gen = generator(small_model, chat=True)
    # createDataFrame keeps the rows' order (no shuffle), and so does the transformer.
    first = gen.transform(spark.createDataFrame(rows, SCHEMA)).collect()

    assert [r.id for r in first] == list(range(len(QUESTIONS)))
    for r in first:
        assert (r.prompt, r.tag) == (QUESTIONS[r.id], f"t{r.id}")
        assert r.error is None, r
        assert r.completion, r
        assert r.prompt_tokens > 0 and r.completion_tokens > 0, r
        assert r.finish_reason in ("stop", "length"), r
    metrics = gen.lastMetrics()
    assert metrics is not None
    assert metrics["total"]["rows_ok"] == len(QUESTIONS), metrics["summary"]
    assert metrics["total"]["rows_failed"] == 0
    assert metrics["total"]["tokens_out"] == sum(r.completion_tokens for r in first)
    assert metrics["tasks"] == sum(e["tasks"] for e in metrics["executors"].values())

    # Greedy and seeded by each row's prompt: the same text on another partitioning.
    again = gen.transform(spark.createDataFrame(rows, SCHEMA).repartition(3)).collect()
    assert {r.id: r.completion for r in again} == {r.id: r.completion for r in first}


def test_a_null_or_empty_prompt_gets_an_error_and_the_others_complete(spark, small_model):
    rows = [
        (0, "Say hello.", "ok"),
        (1, None, "null"),
        (2, "", "empty"),
        (3, "Name a color.", "ok"),
    ]
    # Plain prompts: with chat=True an empty prompt still renders a (non-empty) chat.
    gen = generator(small_model)
    out = gen.transform(spark.createDataFrame(rows, SCHEMA)).collect()

    assert [r.id for r in out] == [0, 1, 2, 3], "no row lost"
    for r in out:
        if r.tag == "ok":
            assert r.error is None and r.completion is not None and r.completion_tokens > 0, r
        else:
            assert r.error and r.completion is None, r
    assert "prompt" in out[1].error, out[1].error
    assert "empty" in out[2].error, out[2].error
    assert gen.lastMetrics()["total"]["rows_failed"] == 2


def test_a_chat_column_uses_the_models_template_and_a_bad_chat_row_fails_alone(
    spark, small_model
):
    schema = "id int, messages array<struct<role: string, content: string>>"
    rows = [
        (0, [("system", "Be brief."), ("user", "Name a fruit.")]),
        (1, [("user", None)]),  # a message without its content
        (2, None),  # no messages at all
        (3, [("user", "Name a color.")]),
    ]
    out = (
        generator(small_model, inputCol="messages")
        .transform(spark.createDataFrame(rows, schema))
        .collect()
    )

    assert [r.id for r in out] == [0, 1, 2, 3], "no row lost"
    for r in (out[0], out[3]):
        assert r.error is None and r.completion, r
        assert r.prompt_tokens > 0 and r.completion_tokens > 0, r
    for r in (out[1], out[2]):
        assert r.error and r.completion is None and r.completion_tokens is None, r
    assert "content" in out[1].error, out[1].error
