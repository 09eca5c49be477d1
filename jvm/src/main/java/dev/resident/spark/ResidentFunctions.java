package dev.resident.spark;

import dev.resident.BatchEngine;
import dev.resident.Generation;
import dev.resident.GenerationRequest;
import dev.resident.ResidentException;
import java.time.Duration;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.api.java.UDF2;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Spark SQL functions served by the executor's resident model:
 *
 * <pre>{@code
 * ResidentFunctions.register(spark);
 * spark.sql("SELECT id, resident_generate(prompt, map('model', 'smollm2-135m-instruct',"
 *     + " 'maxTokens', '32', 'id', CAST(id AS STRING))).completion FROM prompts");
 * }</pre>
 *
 * <p>{@code resident_generate(prompt, options)}: {@code prompt} is a string or an array of
 * struct&lt;role, content&gt;; {@code options} a map&lt;string, string&gt; of TextGenerator Param
 * names (model, maxTokens, temperature, topK, topP, minP, seed, stop (one string), systemPrompt,
 * promptTemplate, chat, parallel, ctxSize, determinism, weights, kvTokens, rowTimeout, threads)
 * plus {@code id}, the row's id, which seeds its sampler by the same row contract as every front
 * end. It returns struct&lt;completion, prompt_tokens, completion_tokens, finish_reason, error&gt;:
 * a bad row gets its error, never a lost row. Rows go to the executor's one batch engine (strategy
 * shared-batched); each task keeps one row in flight, so the engine fills from the executor's
 * concurrent tasks: for the highest throughput use {@link TextGenerator}, which keeps a window of
 * rows in flight per task. The executors' memory budget is spark.executor.memoryOverhead's, as for
 * a TextGenerator without the memoryBudget Param.
 */
public final class ResidentFunctions {
  /** The type {@code resident_generate} returns. */
  public static final StructType RESULT_TYPE =
      new StructType()
          .add("completion", DataTypes.StringType)
          .add("prompt_tokens", DataTypes.IntegerType)
          .add("completion_tokens", DataTypes.IntegerType)
          .add("finish_reason", DataTypes.StringType)
          .add("error", DataTypes.StringType);

  private ResidentFunctions() {}

  /** Registers {@code resident_generate} in the session's function registry. */
  public static void register(SparkSession spark) {
    ResidentStage.Executors executors = new TextGenerator().executors(spark);
    Settings settings = new Settings(executors);
    spark
        .udf()
        .register(
            "resident_generate",
            (UDF2<Object, scala.collection.Map<?, ?>, Row>)
                (prompt, options) -> generate(settings, prompt, options),
            RESULT_TYPE);
  }

  /**
   * The settings of each distinct options map (without the row's id) of one registration, checked
   * once per executor JVM; at most {@link #MAX_SETTINGS} kept (options that vary per row, e.g. a
   * system prompt from a column, are checked again rather than kept forever).
   */
  private static final class Settings implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private final ResidentStage.Executors executors;
    private transient Map<Map<String, String>, GeneratorSettings> byOptions;

    Settings(ResidentStage.Executors executors) {
      this.executors = executors;
    }

    synchronized GeneratorSettings of(Map<String, String> options) {
      if (byOptions == null) byOptions = new ConcurrentHashMap<>();
      GeneratorSettings s = byOptions.get(options);
      if (s == null) {
        s = settings(options, executors);
        if (byOptions.size() >= MAX_SETTINGS) byOptions.clear();
        byOptions.put(options, s);
      }
      return s;
    }
  }

  private static final int MAX_SETTINGS = 64;

  private static Row generate(
      Settings settings, Object prompt, scala.collection.Map<?, ?> options) {
    Map<String, String> o = new TreeMap<>();
    if (options != null) {
      for (Map.Entry<?, ?> e : scala.jdk.javaapi.CollectionConverters.asJava(options).entrySet()) {
        // A null value leaves the option unset; any type of value is read as its text.
        if (e.getValue() != null) o.put(String.valueOf(e.getKey()), String.valueOf(e.getValue()));
      }
    }
    String id = o.remove("id");
    GeneratorSettings s = settings.of(o);
    GenerationRequest request;
    try {
      request = s.request(prompt, id);
    } catch (IllegalArgumentException e) { // a prompt that is neither text nor messages
      return RowFactory.create(null, null, null, null, "invalid_argument: " + e.getMessage());
    }
    ExecutorModels.applyBudget(s.memoryBudgetBytes, s.memoryBudgetSource);
    BatchEngine engine = ExecutorModels.engine(s.spec(ExecutorModels.locate(s.model)));
    Generation g = generate(engine, request, TaskContext.get());
    return g.isOk()
        ? RowFactory.create(
            g.text(), g.promptTokens(), g.completionTokens(), g.finishReason(), null)
        : RowFactory.create(null, null, null, null, g.error().getMessage());
  }

  /**
   * The row's generation, cancelled with its task: a killed task (a cancelled query, a lost
   * speculative race) stops its row in the engine within one decode step and leaves by Spark's kill
   * exception. Outside a task ({@code task} null) it just waits.
   */
  static Generation generate(BatchEngine engine, GenerationRequest request, TaskContext task) {
    if (task == null) return engine.generate(request);
    CompletableFuture<Generation> f = null;
    try {
      while (f == null) { // waits for queue room in slices, watching for a kill
        killIfInterrupted(task, null);
        f = engine.trySubmit(request, Duration.ofMillis(TaskWatch.PERIOD_MS)).orElse(null);
      }
      while (true) {
        killIfInterrupted(task, f);
        try {
          return f.get(TaskWatch.PERIOD_MS, TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
          // look at the task again
        }
      }
    } catch (InterruptedException e) {
      if (f != null) f.cancel(true);
      Thread.currentThread().interrupt();
      killIfInterrupted(task, f);
      throw new ResidentException(
          ResidentException.Code.CANCELLED, "the task was interrupted while its row ran");
    } catch (CancellationException e) {
      return Generation.failed(
          new ResidentException(ResidentException.Code.CANCELLED, "the row was cancelled"));
    } catch (ExecutionException e) {
      throw new ResidentException(
          ResidentException.Code.INTERNAL, "a row's generation failed: " + e.getCause());
    }
  }

  private static void killIfInterrupted(TaskContext task, CompletableFuture<Generation> row) {
    if (!task.isInterrupted()) return;
    if (row != null) row.cancel(true);
    task.killTaskIfInterrupted();
  }

  /**
   * The settings of one options map, as a TextGenerator with those Params would use them;
   * IllegalArgumentException naming an unknown option or a bad value (the query fails: settings are
   * not a row's fault).
   */
  static GeneratorSettings settings(Map<String, String> options, ResidentStage.Executors e) {
    TextGenerator t = new TextGenerator();
    for (Map.Entry<String, String> kv : options.entrySet()) {
      String name = kv.getKey();
      if (name.equals("strategy")
          || name.equals("memoryBudget")
          || name.endsWith("Col")
          || !t.hasParam(name)) {
        throw new IllegalArgumentException(
            "resident_generate: unknown option '"
                + name
                + "': use model, maxTokens, temperature, topK, topP, minP, seed, stop,"
                + " systemPrompt, promptTemplate, chat, parallel, ctxSize, determinism, weights,"
                + " kvTokens, rowTimeout, threads or id");
      }
      try {
        t.setFromText(name, kv.getValue());
      } catch (IllegalArgumentException ex) {
        throw new IllegalArgumentException("resident_generate: option " + ex.getMessage(), ex);
      }
    }
    t.setStrategy(Strategy.SHARED_BATCHED.label());
    return t.settings(e);
  }
}
