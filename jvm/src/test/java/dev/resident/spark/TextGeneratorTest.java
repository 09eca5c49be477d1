package dev.resident.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.BatchEngine;
import dev.resident.GenerationRequest;
import dev.resident.Model;
import dev.resident.ModelSpec;
import dev.resident.Predictor;
import dev.resident.Resident;
import dev.resident.TestModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.spark.SparkException;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The transformer end to end in local[2] on the real small model. */
class TextGeneratorTest {
  private static final StructType SCHEMA =
      new StructType()
          .add("id", DataTypes.IntegerType)
          .add("prompt", DataTypes.StringType)
          .add("tag", DataTypes.StringType);

  private static Dataset<Row> prompts(SparkSession spark, List<String> texts, int partitions) {
    List<Row> rows = new ArrayList<>();
    for (int i = 0; i < texts.size(); i++) rows.add(RowFactory.create(i, texts.get(i), "t" + i));
    return spark.createDataFrame(rows, SCHEMA).repartition(partitions);
  }

  private static List<String> questions(int n) {
    String[] q = {
      "What is the capital of France?", "Name a color.", "What is 2 plus 2?", "Say hello.",
      "Name a fruit.", "What is water made of?", "Name a planet.", "What do cats eat?"
    };
    List<String> out = new ArrayList<>();
    for (int i = 0; i < n; i++) out.add(q[i % q.length] + (i >= q.length ? " (" + i + ")" : ""));
    return out;
  }

  private static TextGenerator generator() {
    return new TextGenerator().setModel(TestModels.small()).setMaxTokens(12).setCtxSize(512);
  }

  @Test
  void keepsEveryRowAndColumnInOrder() {
    SparkSession spark = SparkSessions.local();
    // Ordered partitions (no shuffle), so the output order is the input order.
    List<Row> rows = new ArrayList<>();
    List<String> texts = questions(12);
    for (int i = 0; i < texts.size(); i++) rows.add(RowFactory.create(i, texts.get(i), "t" + i));
    TextGenerator g = generator().setChat(true);
    List<Row> out = g.transform(spark.createDataFrame(rows, SCHEMA)).collectAsList();
    assertEquals(12, out.size());
    for (int i = 0; i < out.size(); i++) {
      Row r = out.get(i);
      assertEquals(i, r.getInt(0));
      assertEquals(texts.get(i), r.getString(1));
      assertEquals("t" + i, r.getString(2));
      assertNotNull(r.getAs("completion"), () -> "row " + r);
      assertFalse(r.<String>getAs("completion").isEmpty());
      assertTrue(r.<Integer>getAs("prompt_tokens") > 0);
      assertTrue(r.<Integer>getAs("completion_tokens") > 0);
      assertTrue(List.of("stop", "length").contains(r.<String>getAs("finish_reason")));
      assertNull(r.getAs("error"));
    }
    JobMetrics.ExecutorTotals total = g.lastMetrics().total();
    assertEquals(12, total.rowsOk);
    String printed = g.lastMetrics().toString();
    assertTrue(printed.contains("all executors: 2 tasks, rows 12 ok / 0 failed"), printed);
    assertEquals(0, total.rowsFailed);
  }

  @Test
  void badRowsGetAnErrorAndTheOthersComplete() {
    SparkSession spark = SparkSessions.local();
    List<Row> rows = new ArrayList<>();
    rows.add(RowFactory.create(0, "Say hello.", "ok"));
    rows.add(RowFactory.create(1, null, "null"));
    rows.add(RowFactory.create(2, "", "empty"));
    rows.add(RowFactory.create(3, "word ".repeat(3000), "overlong"));
    rows.add(RowFactory.create(4, "Name a color.", "ok"));
    List<Row> out = generator().transform(spark.createDataFrame(rows, SCHEMA)).collectAsList();
    assertEquals(5, out.size());
    for (Row r : out) {
      String error = r.getAs("error");
      if (r.getString(2).equals("ok")) {
        assertNull(error, () -> "row " + r);
        assertNotNull(r.getAs("completion"));
      } else {
        assertNotNull(error, () -> "row " + r);
        assertNull(r.getAs("completion"));
      }
    }
    assertTrue(out.get(1).<String>getAs("error").contains("has no prompt"), out.get(1).toString());
    assertTrue(out.get(2).<String>getAs("error").contains("empty"), out.get(2).toString());
    assertTrue(out.get(3).<String>getAs("error").contains("context"), out.get(3).toString());
  }

  /**
   * The default determinism: a seeded row's text at temperature 0.8 is the same in two runs, under
   * every strategy and partitioning, and equal to a lone predictor's, on SmolLM2 (Q4_1) and on
   * Gemma 3 (Q4_K_M, whose weights the fast mode would repack).
   */
  @ParameterizedTest
  @ValueSource(strings = {"smollm2", "gemma"})
  void aSeededRowsTextDoesNotDependOnStrategyPartitioningOrRun(String name) {
    SparkSession spark = SparkSessions.local();
    String model = name.equals("gemma") ? TestModels.gemma() : TestModels.small();
    List<String> texts = questions(10);
    List<String> reference = lonePredictor(model, texts);
    String[][] runs = {
      {"shared-batched", "1"},
      {"shared-batched", "3"},
      {"shared-batched", "8"},
      {"shared-batched", "3"},
      {"shared", "3"},
      {"per-partition", "3"}
    };
    for (String[] run : runs) {
      String strategy = run[0];
      int partitions = Integer.parseInt(run[1]);
      TextGenerator g =
          generator()
              .setModel(model)
              .setStrategy(strategy)
              .setIdCol("id")
              .setTemperature(0.8)
              .setSeed(7);
      // Sorted here, not with orderBy: a range sort samples its input first,
      // which would run the generation twice.
      String[] byId = new String[texts.size()];
      for (Row r : g.transform(prompts(spark, texts, partitions)).collectAsList()) {
        assertNull(r.getAs("error"), () -> strategy + ": " + r);
        byId[r.getInt(0)] = r.getAs("completion");
      }
      assertEquals(
          reference, List.of(byId), name + ", " + strategy + " with " + partitions + " partitions");
      // The metrics name the CPU variant whose kernels produced the text.
      assertFalse(g.lastMetrics().total().cpuVariants.isEmpty(), g.lastMetrics()::toString);
      if (strategy.equals("per-partition")) {
        assertEquals(partitions, g.lastMetrics().total().loads, "per-partition loads");
      }
    }
  }

  /** The rows one by one through one predictor of one thread: the reference text. */
  private static List<String> lonePredictor(String model, List<String> texts) {
    ModelSpec spec = ModelSpec.builder(model).ctxSize(512).threads(1).parallel(1).seed(7).build();
    List<String> out = new ArrayList<>();
    try (Model m = Resident.loadPrivate(spec);
        Predictor p = m.newPredictor()) {
      for (int i = 0; i < texts.size(); i++) {
        GenerationRequest r =
            GenerationRequest.ofPrompt(texts.get(i)).maxTokens(12).temperature(0.8f);
        out.add(p.generate(r.id(String.valueOf(i))).text());
      }
    }
    return out;
  }

  @Test
  void chatMessagesColumnUsesTheModelsTemplate() {
    SparkSession spark = SparkSessions.local();
    Dataset<Row> df =
        spark.sql(
            "SELECT 1 AS id, array(named_struct('role', 'system', 'content', 'Be brief.'),"
                + " named_struct('role', 'user', 'content', 'Name a fruit.')) AS messages");
    Row r = generator().setInputCol("messages").transform(df).first();
    assertNull(r.getAs("error"), r::toString);
    assertFalse(r.<String>getAs("completion").isEmpty());
  }

  @Test
  void missingOrCorruptModelFailsTheJobWithAClearMessage(@TempDir Path dir) throws Exception {
    SparkSession spark = SparkSessions.local();
    Dataset<Row> in = prompts(spark, questions(2), 1);
    String missing = dir.resolve("absent.gguf").toString();
    SparkException e1 =
        assertThrows(
            SparkException.class, () -> generator().setModel(missing).transform(in).collect());
    assertTrue(e1.getMessage().contains("absent.gguf"), e1::getMessage);
    assertTrue(e1.getMessage().contains("not_found"), e1::getMessage);

    String corrupt = TestModels.corrupt(dir).toString();
    SparkException e2 =
        assertThrows(
            SparkException.class, () -> generator().setModel(corrupt).transform(in).collect());
    assertTrue(e2.getMessage().contains("corrupt.gguf"), e2::getMessage);
    assertTrue(e2.getMessage().contains("data_loss"), e2::getMessage);
  }

  @Test
  void aModelOverTheExecutorsMemoryBudgetIsRefusedWithTheSettingToRaise() {
    SparkSession spark = SparkSessions.local();
    Dataset<Row> in = prompts(spark, questions(2), 1);
    // A context size no other test uses: this job needs a context of its own.
    SparkException e =
        assertThrows(
            SparkException.class,
            () -> generator().setCtxSize(448).setMemoryBudget("16m").transform(in).collect());
    assertTrue(e.getMessage().contains("failed_precondition"), e::getMessage);
    assertTrue(e.getMessage().contains("budget is 16.0 MiB"), e::getMessage);
    assertTrue(e.getMessage().contains("raise the memoryBudget Param"), e::getMessage);
    // The next job, without a budget, is not held to this one's (local mode: same executor JVM).
    for (Row r : generator().setCtxSize(448).transform(in).collectAsList()) {
      assertNull(r.getAs("error"), r::toString);
    }
    assertThrows(
        IllegalArgumentException.class, () -> generator().setMemoryBudget("lots").transform(in));
    assertThrows(
        IllegalArgumentException.class, () -> generator().setWeights("both").transform(in));
    assertThrows(IllegalArgumentException.class, () -> generator().setKvTokens(8).transform(in));
  }

  /**
   * Issue 19: a job without the memoryBudget Param runs under the documented default (the
   * container's limit or the machine), not under the budget of the job before it in the same JVM.
   */
  @Test
  void aJobWithoutABudgetDoesNotInheritTheLastJobs() {
    SparkSession spark = SparkSessions.local();
    Dataset<Row> in = prompts(spark, questions(1), 1);
    Resident.setMemoryBudget(0, "");
    long auto = Resident.counters().path("budget_bytes").asLong();
    long chosen = auto == 3L << 30 ? 2L << 30 : 3L << 30;
    TextGenerator budgeted = generator().setMemoryBudget((chosen >> 30) + "g");
    budgeted.transform(in).collect();
    assertEquals(chosen, budgeted.lastMetrics().total().budgetBytes);
    TextGenerator unset = generator();
    unset.transform(in).collect();
    assertEquals(auto, unset.lastMetrics().total().budgetBytes);
    assertEquals(auto, Resident.counters().path("budget_bytes").asLong());
  }

  /**
   * Issue 19: Resident.evict closes the engine the executor's jobs share; the next job in the same
   * JVM loads the model again instead of failing with "the batch engine is closed".
   */
  @Test
  void aNewJobRunsAfterItsModelWasEvicted(@TempDir Path dir) throws Exception {
    SparkSession spark = SparkSessions.local();
    Path copy = dir.resolve("evicted.gguf"); // a registry key of its own: nothing else holds it
    Files.copy(Paths.get(TestModels.small()), copy);
    TextGenerator g = generator().setModel(copy.toString()).setParallel(2);
    Dataset<Row> in = prompts(spark, questions(2), 1);
    for (Row r : g.transform(in).collectAsList()) assertNull(r.getAs("error"), r::toString);
    Resident.evict(g.settings(in.schema(), spark).spec(copy.toString()));
    for (Row r : g.transform(in).collectAsList()) assertNull(r.getAs("error"), r::toString);
    assertEquals(1, g.lastMetrics().total().loads, "the evicted model loads again");
  }

  /**
   * Issue 19: a cancelled query stops its resident_generate rows in the engine (the task's kill
   * reaches the row), instead of letting them decode to maxTokens.
   */
  @Test
  void aCancelledSqlQueryStopsItsRowsInTheEngine() throws Exception {
    SparkSession spark = SparkSessions.local();
    ResidentFunctions.register(spark);
    List<String> counting = new ArrayList<>();
    for (int i = 0; i < 8; i++) counting.add("Count from 1 to 1000: 1, 2, 3, " + (4 + i) + ",");
    prompts(spark, counting, 2).createOrReplaceTempView("sql_cancel_rows");
    // A parallel no other test uses: an engine of its own.
    Map<String, String> options = new TreeMap<>();
    options.put("model", TestModels.small());
    options.put("maxTokens", "400");
    options.put("ctxSize", "512");
    options.put("parallel", "3");
    ModelSpec spec =
        ResidentFunctions.settings(options, new TextGenerator().executors(spark))
            .spec(TestModels.small());
    String query =
        "SELECT resident_generate(prompt, map('model', '"
            + TestModels.small()
            + "', 'maxTokens', '400', 'ctxSize', '512', 'parallel', '3')).completion"
            + " FROM sql_cancel_rows";
    CompletableFuture<Long> job =
        CompletableFuture.supplyAsync(
            () -> {
              spark
                  .sparkContext()
                  .setJobGroup("resident-sql-cancel", "cancelled on purpose", false);
              try {
                // Collected, not counted: a count would prune the function's column away.
                return (long) spark.sql(query).collectAsList().size();
              } finally {
                spark.sparkContext().clearJobGroup();
              }
            });
    BatchEngine engine = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (engine == null || engine.stats().path("generated_tokens").asLong() < 20) {
      assertTrue(System.nanoTime() < deadline, "the query never started generating");
      Thread.sleep(20);
      if (engine == null && spark.sparkContext().statusTracker().getActiveJobIds().length > 0) {
        engine = ExecutorModels.engine(spec); // local mode: the executor is this JVM
      }
    }
    long cancelledBefore = engine.stats().path("cancelled").asLong();
    spark.sparkContext().cancelJobGroup("resident-sql-cancel");
    ExecutionException failed =
        assertThrows(ExecutionException.class, () -> job.get(60, TimeUnit.SECONDS));
    assertTrue(failed.getCause() instanceof SparkException, failed::toString);
    // The rows leave the engine within a few decode steps, far sooner than 400 tokens each.
    BatchEngine e = engine;
    long stopBy = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (true) {
      JsonNode st = e.stats();
      long open =
          st.path("submitted").asLong()
              - st.path("completed").asLong()
              - st.path("failed").asLong();
      if (open == 0) break;
      assertTrue(System.nanoTime() < stopBy, () -> "rows still in the engine: " + st);
      Thread.sleep(10);
    }
    assertTrue(e.stats().path("cancelled").asLong() > cancelledBefore, () -> "" + e.stats());
  }

  @Test
  void badParamsAreRejectedOnTheDriver() {
    SparkSession spark = SparkSessions.local();
    Dataset<Row> in = prompts(spark, questions(1), 1);
    IllegalArgumentException noCol =
        assertThrows(
            IllegalArgumentException.class,
            () -> generator().setInputCol("question").transform(in));
    assertTrue(noCol.getMessage().contains("question"), noCol::getMessage);
    assertThrows(IllegalArgumentException.class, () -> generator().setStrategy("every-row"));
    IllegalArgumentException noModel =
        assertThrows(IllegalArgumentException.class, () -> new TextGenerator().transform(in));
    assertTrue(noModel.getMessage().contains("model"), noModel::getMessage);
  }

  @Test
  void everyBadParamIsNamedAtTransformBeforeAnyWork() {
    SparkSession spark = SparkSessions.local();
    Dataset<Row> in = prompts(spark, questions(1), 1);
    Map<String, TextGenerator> bad = new LinkedHashMap<>();
    bad.put("maxTokens", generator().setMaxTokens(-1));
    bad.put("temperature", generator().setTemperature(Double.NaN));
    bad.put("topP", generator().setTopP(2));
    bad.put("minP", generator().setMinP(-0.5));
    bad.put("topK", generator().setTopK(-1));
    bad.put("parallel", generator().setParallel(0));
    bad.put("threads", generator().setThreads(-3));
    bad.put("ctxSize", generator().setCtxSize(5));
    bad.put("kvTokens", generator().setKvTokens(8));
    bad.put("weights", generator().setWeights("both"));
    bad.put("determinism", generator().setDeterminism("sometimes"));
    bad.put("rowTimeout", generator().setRowTimeout(-1));
    for (Map.Entry<String, TextGenerator> e : bad.entrySet()) {
      IllegalArgumentException ex =
          assertThrows(
              IllegalArgumentException.class, () -> e.getValue().transform(in), e.getKey());
      assertTrue(ex.getMessage().contains("Param " + e.getKey() + " "), ex::getMessage);
      assertTrue(ex.getMessage().contains("use "), ex::getMessage); // the valid range
    }
  }

  @Test
  void rowsStreamThroughTheEngineAndComeBackInInputOrder() {
    SparkSession spark = SparkSessions.local();
    List<Row> rows = new ArrayList<>();
    List<String> texts = questions(40);
    for (int i = 0; i < texts.size(); i++) rows.add(RowFactory.create(i, texts.get(i), "t" + i));
    // One partition of 40 rows through a window of 4 (2 x parallel): rows complete out of order
    // inside the engine and are yielded in order.
    TextGenerator g = generator().setParallel(2).setMaxTokens(6);
    List<Row> out = g.transform(spark.createDataFrame(rows, SCHEMA).coalesce(1)).collectAsList();
    assertEquals(40, out.size());
    for (int i = 0; i < out.size(); i++) {
      assertEquals(i, out.get(i).getInt(0));
      assertNull(out.get(i).getAs("error"), out.get(i)::toString);
    }
    assertEquals(40, g.lastMetrics().total().rowsOk);
  }

  @Test
  void rowsPastTheRowTimeoutFailAloneWithDeadlineExceeded() {
    SparkSession spark = SparkSessions.local();
    List<Row> out =
        generator()
            .setRowTimeout(0.001)
            .setMaxTokens(64)
            .transform(prompts(spark, questions(6), 2))
            .collectAsList();
    assertEquals(6, out.size());
    int expired = 0;
    for (Row r : out) {
      // A row whose first token ends it may finish inside its first decode step.
      if (r.getAs("error") == null) continue;
      assertNull(r.getAs("completion"));
      assertTrue(r.<String>getAs("error").contains("deadline_exceeded"), r::toString);
      expired++;
    }
    assertTrue(expired >= 3, () -> out.toString());
  }

  @Test
  void aCancelledJobStopsItsRowsInTheEngineAndTheNextJobRuns() throws Exception {
    SparkSession spark = SparkSessions.local();
    TextGenerator g = generator().setMaxTokens(300).setParallel(4);
    Dataset<Row> in = prompts(spark, questions(64), 2);
    ModelSpec spec = g.settings(in.schema(), spark).spec(TestModels.small());
    CompletableFuture<Long> job =
        CompletableFuture.supplyAsync(
            () -> {
              spark
                  .sparkContext()
                  .setJobGroup("resident-cancel-test", "cancelled on purpose", false);
              try {
                return g.transform(in).count();
              } finally {
                spark.sparkContext().clearJobGroup();
              }
            });
    BatchEngine engine = null;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (engine == null || engine.stats().path("generated_tokens").asLong() < 40) {
      assertTrue(System.nanoTime() < deadline, "the job never started generating");
      Thread.sleep(20);
      if (engine == null && spark.sparkContext().statusTracker().getActiveJobIds().length > 0) {
        engine = ExecutorModels.engine(spec); // local mode: the executor is this JVM
      }
    }
    long cancelledBefore = engine.stats().path("cancelled").asLong();
    spark.sparkContext().cancelJobGroup("resident-cancel-test");
    ExecutionException failed =
        assertThrows(ExecutionException.class, () -> job.get(60, TimeUnit.SECONDS));
    assertTrue(failed.getCause() instanceof SparkException, failed::toString);
    // Every row of the killed tasks leaves the engine: none queued or running.
    BatchEngine e = engine;
    while (true) {
      JsonNode st = e.stats();
      long open =
          st.path("submitted").asLong()
              - st.path("completed").asLong()
              - st.path("failed").asLong();
      if (open == 0) break;
      assertTrue(System.nanoTime() < deadline, () -> "rows still in the engine: " + st);
      Thread.sleep(10);
    }
    assertTrue(e.stats().path("cancelled").asLong() > cancelledBefore, () -> "" + e.stats());
    List<Row> next =
        generator().setParallel(4).transform(prompts(spark, questions(2), 1)).collectAsList();
    for (Row r : next) assertNull(r.getAs("error"), r::toString);
  }

  @Test
  void savesAndLoadsLikeAnySparkStage(@TempDir Path dir) throws Exception {
    SparkSessions.local();
    TextGenerator g =
        generator().setStrategy("shared").setSeed(99).setStop("\n", "END").setSystemPrompt("Hi");
    String path = dir.resolve("generator").toString();
    g.write().overwrite().save(path);
    TextGenerator back = TextGenerator.load(path);
    assertEquals(g.uid(), back.uid());
    assertEquals("shared", back.getOrDefault(back.strategy()));
    assertEquals(99L, back.getOrDefault(back.seed()));
    assertEquals(List.of("\n", "END"), List.of(back.getOrDefault(back.stop())));
    assertEquals("Hi", back.getOrDefault(back.systemPrompt()));
    assertEquals(TestModels.small(), back.getOrDefault(back.model()));
  }

  @Test
  void theSqlFunctionGivesTheTransformersTextAndErrorRows() {
    SparkSession spark = SparkSessions.local();
    ResidentFunctions.register(spark);
    List<Row> rows = new ArrayList<>();
    rows.add(RowFactory.create(1, "Name a color.", "ok"));
    rows.add(RowFactory.create(2, null, "null"));
    rows.add(RowFactory.create(3, "Name a fruit.", "ok"));
    spark.createDataFrame(rows, SCHEMA).createOrReplaceTempView("sql_rows");
    String options =
        "map('model', '"
            + TestModels.small()
            + "', 'maxTokens', '6', 'temperature', '0.8', 'seed', '3', 'strategy_', 'x')";
    List<Row> sql =
        spark
            .sql(
                "SELECT id, r.completion, r.error FROM (SELECT id, resident_generate(prompt,"
                    + " map('model', '"
                    + TestModels.small()
                    + "', 'maxTokens', '6', 'ctxSize', '512', 'temperature', '0.8', 'seed', '3',"
                    + " 'id', CAST(id AS STRING))) AS r FROM sql_rows) ORDER BY id")
            .collectAsList();
    List<Row> direct =
        generator()
            .setMaxTokens(6)
            .setTemperature(0.8)
            .setSeed(3)
            .setIdCol("id")
            .transform(spark.table("sql_rows"))
            .orderBy("id")
            .select("id", "completion", "error")
            .collectAsList();
    assertEquals(direct.get(0).getString(1), sql.get(0).getString(1));
    assertEquals(direct.get(2).getString(1), sql.get(2).getString(1));
    assertNotNull(sql.get(0).getString(1));
    assertNull(sql.get(1).getString(1));
    assertTrue(sql.get(1).getString(2).contains("has no prompt"), sql.get(1).toString());
    // An unknown option is the query's error, not a row's.
    Exception e =
        assertThrows(
            Exception.class,
            () ->
                spark
                    .sql("SELECT resident_generate(prompt, " + options + ") FROM sql_rows")
                    .collectAsList());
    assertTrue(String.valueOf(rootMessage(e)).contains("unknown option 'strategy_'"), e::toString);
  }

  private static String rootMessage(Throwable e) {
    StringBuilder b = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) b.append(t.getMessage()).append(" | ");
    return b.toString();
  }
}
