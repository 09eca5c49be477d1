package dev.resident.spark;

import dev.resident.Resident;
import dev.resident.internal.Contract;
import dev.resident.internal.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;

/**
 * The ready job: prompts in, completions out, for users who write no code.
 *
 * <pre>
 * spark-submit --class dev.resident.spark.ResidentJob resident-spark_2.13-0.1.0.jar \
 *   --model smollm2-135m-instruct --input prompts.jsonl --output completions.jsonl \
 *   [--strategy shared-batched|shared|per-partition] [--partitions P] [--max-tokens N]
 *   [--seed N] [--summary summary.json]
 * </pre>
 *
 * Run with {@code --help} for every option. Exit code 0 when the job ran (rows that failed have
 * their error in the error column), 2 for a usage error, 1 when the job failed.
 */
public final class ResidentJob {
  private ResidentJob() {}

  /** The command line. */
  static final class Options {
    String model;
    String input;
    String output;
    String inputFormat;
    String format;
    int partitions = 0;
    String summary;

    /** The options that set a stage's Params, by flag (e.g. --max-tokens), in the order given. */
    final Map<String, String> params = new LinkedHashMap<>();
  }

  /**
   * The flags that set Params, and the Param each sets. A Param not given keeps its default (the
   * core's, for the engine's settings); the usage shows it.
   */
  static final Map<String, String> PARAM_FLAGS = new LinkedHashMap<>();

  static {
    String[][] flags = {
      {"--strategy", "strategy"},
      {"--max-tokens", "maxTokens"},
      {"--seed", "seed"},
      {"--temperature", "temperature"},
      {"--top-p", "topP"},
      {"--min-p", "minP"},
      {"--parallel", "parallel"},
      {"--threads", "threads"},
      {"--ctx-size", "ctxSize"},
      {"--prompt-col", "inputCol"},
      {"--id-col", "idCol"},
      {"--chat", "chat"},
      {"--system", "systemPrompt"},
      {"--prompt-template", "promptTemplate"},
      {"--determinism", "determinism"},
      {"--weights", "weights"},
      {"--kv-tokens", "kvTokens"},
      {"--row-timeout", "rowTimeout"},
      {"--memory-budget", "memoryBudget"},
      {"--top-k", "topK"},
      {"--batch-size", "batchSize"},
    };
    for (String[] f : flags) PARAM_FLAGS.put(f[0], f[1]);
  }

  static String usage() {
    return String.join(
        "\n",
        "usage: spark-submit --class dev.resident.spark.ResidentJob <jar> --model M --input PATH"
            + " --output PATH [options]",
        "  --model M            catalog name, .gguf path on every node, or a --files name",
        "  --input PATH         .jsonl/.json, .csv or .parquet (or --input-format)",
        "  --output PATH        .jsonl/.json, .parquet or .csv (or --format); a Spark folder",
        "  --strategy S         shared-batched, shared or per-partition" + textDefault("strategy"),
        "  --partitions P       repartition the input into P partitions, keeping row order",
        "  --max-tokens N       tokens per completion" + textDefault("maxTokens"),
        "  --seed N             base seed, mixed with each row's key" + textDefault("seed"),
        "  --temperature T      0 = greedy" + textDefault("temperature"),
        "  --top-p P, --min-p P nucleus and min-p sampling (used when temperature > 0)",
        "  --parallel N         sequences in flight per executor" + textDefault("parallel"),
        "  --threads N          compute threads per executor (0 = its cores)",
        "  --ctx-size N         tokens of context per sequence" + textDefault("ctxSize"),
        "  --prompt-col C       input column of prompts (prompt)",
        "  --id-col C           column of row ids, which seed each row, when the input has it"
            + textDefault("idCol"),
        "                       (a row without an id: its prompt)",
        "  --chat               render prompts with the model's chat template",
        "  --system TEXT        system prompt (implies --chat)",
        "  --prompt-template T  template around each prompt, {prompt} where it goes",
        "  --determinism D      invariant or fast" + textDefault("determinism"),
        "  --weights W          auto, shared (mapped, one copy per node) or private"
            + textDefault("weights"),
        "                       (repacked; under invariant only where the CPU has AMX)",
        "  --kv-tokens N        KV cells per sequence (0 = sized to the rows)",
        "  --row-timeout S      seconds a row may take before it fails (0 = no limit)",
        "  --memory-budget SIZE native memory per executor, e.g. 6g (default:",
        "                       spark.executor.memoryOverhead where set, else the machine)",
        "  --summary FILE       write totals and per-executor metrics as JSON",
        "",
        "With an image classifier (e.g. --model efficientnet-lite0, or an .onnx file) the input",
        "is a folder of images (JPEG, PNG, BMP, GIF; searched recursively) and each output row",
        "is a file's path, label, score, top_k classes and error:",
        "  --top-k K            classes per image" + classifierDefault("topK"),
        "  --batch-size N       images per inference call" + classifierDefault("batchSize"));
  }

  /** " (default)" of a TextGenerator Param: the core's default, read from it. */
  private static String textDefault(String param) {
    return defaultOf(TextGenerator::new, param);
  }

  private static String classifierDefault(String param) {
    return defaultOf(ImageClassifier::new, param);
  }

  private static String defaultOf(java.util.function.Supplier<ResidentStage<?>> stage, String p) {
    try {
      ResidentStage<?> s = stage.get();
      return " (" + s.getOrDefault(s.getParam(p)) + ")";
    } catch (RuntimeException | LinkageError e) {
      return ""; // no native library here: the usage still prints
    }
  }

  static Options parse(String[] args) {
    Options o = new Options();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (a.equals("--help") || a.equals("-h")) throw new UsageError(null);
      if (a.equals("--chat")) {
        o.params.put(a, "true");
        continue;
      }
      if (i + 1 >= args.length) throw new UsageError("option " + a + " needs a value");
      String v = args[++i];
      try {
        switch (a) {
          case "--model" -> o.model = v;
          case "--input" -> o.input = v;
          case "--output" -> o.output = v;
          case "--input-format" -> o.inputFormat = v;
          case "--format" -> o.format = v;
          case "--partitions" -> o.partitions = Integer.parseInt(v);
          case "--summary" -> o.summary = v;
          default -> {
            if (!PARAM_FLAGS.containsKey(a)) throw new UsageError("unknown option " + a);
            o.params.put(a, v);
          }
        }
      } catch (NumberFormatException e) {
        throw new UsageError("option " + a + " needs a number, not '" + v + "'");
      }
    }
    if (o.model == null || o.input == null || o.output == null) {
      throw new UsageError("--model, --input and --output are required");
    }
    if (o.partitions < 0) throw new UsageError("--partitions must be 0 or more");
    return o;
  }

  /** A usage error: printed with the usage, exit code 2. */
  static final class UsageError extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    UsageError(String message) {
      super(message);
    }
  }

  static String formatOf(String path, String explicit) {
    String f = explicit;
    if (f == null) {
      String p = path.toLowerCase(Locale.ROOT).replaceAll("/+$", "");
      if (p.endsWith(".jsonl") || p.endsWith(".json")) f = "json";
      else if (p.endsWith(".parquet")) f = "parquet";
      else if (p.endsWith(".csv")) f = "csv";
      else {
        throw new UsageError(
            "cannot tell the format of "
                + path
                + " from its extension: use .jsonl, .json, .parquet or .csv, or give the format");
      }
    }
    f = f.toLowerCase(Locale.ROOT);
    if (f.equals("jsonl")) f = "json";
    if (!List.of("json", "parquet", "csv").contains(f)) {
      throw new UsageError("unknown format '" + f + "': use jsonl, json, parquet or csv");
    }
    return f;
  }

  static void write(Dataset<Row> df, String path, String format) {
    var w = df.write().mode(SaveMode.Overwrite);
    switch (format) {
      case "json" -> w.json(path);
      case "csv" -> w.option("header", "true").csv(path);
      default -> w.parquet(path);
    }
  }

  /** Runs the job on the session; returns the summary it wrote (or would write). */
  /** The job's transformer, from its options. */
  static TextGenerator generator(Options o) {
    return withParams(new TextGenerator().setModel(o.model), o, "language models");
  }

  /** The job's transformer for an image classifier, from its options. */
  static ImageClassifier classifier(Options o) {
    return withParams(
        new ImageClassifier().setModel(o.model).setInputCol("content"), o, "image classifiers");
  }

  /** Sets the stage's Params from the options; a flag it has no Param for is a usage error. */
  private static <T extends ResidentStage<T>> T withParams(T stage, Options o, String kind) {
    for (Map.Entry<String, String> f : o.params.entrySet()) {
      String param = PARAM_FLAGS.get(f.getKey());
      if (!stage.hasParam(param)
          || (param.equals("inputCol") && kind.equals("image classifiers"))) {
        throw new UsageError("option " + f.getKey() + " does not apply to " + kind);
      }
      try {
        stage.setFromText(param, f.getValue());
      } catch (IllegalArgumentException e) {
        throw new UsageError("option " + f.getKey() + ": " + e.getMessage());
      }
    }
    return stage;
  }

  /** Whether the job classifies images (the model is an image classifier) or generates text. */
  static boolean classifies(Options o) {
    return Resident.engineOf(o.model).equals("onnx");
  }

  /** Checks every option before Spark starts. */
  static void validate(Options o) {
    if (classifies(o)) {
      classifier(o).validateParams();
    } else {
      generator(o).validateParams();
    }
  }

  static final String IMAGE_FILES = "*.{jpg,jpeg,png,bmp,gif,JPG,JPEG,PNG,BMP,GIF}";

  /** Classifies a folder of images; returns the summary. */
  static Map<String, Object> classify(SparkSession spark, Options o) throws IOException {
    long t0 = System.nanoTime();
    Dataset<Row> input =
        spark
            .read()
            .format("binaryFile")
            .option("pathGlobFilter", IMAGE_FILES)
            .option("recursiveFileLookup", "true")
            .load(o.input);
    if (o.partitions > 0) input = input.repartition(o.partitions);
    ImageClassifier classifier = classifier(o);
    Dataset<Row> out = classifier.transform(input).drop("content", "modificationTime", "length");
    String format = formatOf(o.output, o.format);
    if (format.equals("csv")) out = out.withColumn("top_k", functions.to_json(out.col("top_k")));
    write(out, o.output, format);
    double wall = (System.nanoTime() - t0) / 1e9;
    JobMetrics.ExecutorTotals all = classifier.lastMetrics().total();
    Map<String, Object> summary = summary(o, classifier.lastMetrics(), wall, input);
    summary.put("images_per_second", wall > 0 ? (all.rowsOk + all.rowsFailed) / wall : 0);
    finish(o, summary);
    System.err.printf(
        Locale.ROOT,
        "[resident] %d images ok, %d failed, %.1f images/s, %d model loads (%.2f s), %.1f s%n",
        all.rowsOk,
        all.rowsFailed,
        wall > 0 ? (all.rowsOk + all.rowsFailed) / wall : 0,
        all.loads,
        all.loadSeconds,
        wall);
    return summary;
  }

  /** The job's strategy, by its canonical name. */
  static String strategyOf(Options o) {
    return Strategy.parse(o.params.getOrDefault("--strategy", Contract.defaultStrategy())).label();
  }

  /** What every job's summary says: the model, strategy, rows and loads, per executor too. */
  private static Map<String, Object> summary(
      Options o, JobMetrics m, double wall, Dataset<Row> input) {
    JobMetrics.ExecutorTotals all = m.total();
    Map<String, Object> summary = new LinkedHashMap<>();
    summary.put("model", o.model);
    summary.put("strategy", strategyOf(o));
    // The count asked for, not asked of a range-partitioned input (which would sample it again).
    summary.put("partitions", o.partitions > 0 ? o.partitions : input.rdd().getNumPartitions());
    summary.put("wall_seconds", wall);
    summary.put("rows_ok", all.rowsOk);
    summary.put("rows_failed", all.rowsFailed);
    summary.put("model_loads", all.loads);
    summary.put("load_seconds", all.loadSeconds);
    List<Map<String, Object>> executors = new ArrayList<>();
    for (JobMetrics.ExecutorTotals t : m.perExecutor().values()) executors.add(t.toMap());
    summary.put("executors", executors);
    return summary;
  }

  /** Writes the summary where --summary says. */
  private static void finish(Options o, Map<String, Object> summary) throws IOException {
    if (o.summary != null) {
      Files.write(
          Paths.get(o.summary),
          Json.mapper()
              .writerWithDefaultPrettyPrinter()
              .writeValueAsString(summary)
              .getBytes(StandardCharsets.UTF_8));
    }
  }

  static Map<String, Object> run(SparkSession spark, Options o) throws IOException {
    if (classifies(o)) return classify(spark, o);
    long t0 = System.nanoTime();
    Dataset<Row> input =
        JobInput.read(spark, o.input, formatOf(o.input, o.inputFormat), o.partitions);
    TextGenerator generator = generator(o);
    Dataset<Row> out = generator.transform(input);
    write(out, o.output, formatOf(o.output, o.format));
    double wall = (System.nanoTime() - t0) / 1e9;

    JobMetrics.ExecutorTotals all = generator.lastMetrics().total();
    Map<String, Object> summary = summary(o, generator.lastMetrics(), wall, input);
    summary.put("tokens_in", all.tokensIn);
    summary.put("tokens_out", all.tokensOut);
    summary.put("generated_tokens_per_second", wall > 0 ? all.tokensOut / wall : 0);
    finish(o, summary);
    System.err.printf(
        Locale.ROOT,
        "[resident] %d rows ok, %d failed, %d tokens in, %d out, %.1f tok/s, %d model loads"
            + " (%.2f s), %.1f s%n",
        all.rowsOk,
        all.rowsFailed,
        all.tokensIn,
        all.tokensOut,
        wall > 0 ? all.tokensOut / wall : 0,
        all.loads,
        all.loadSeconds,
        wall);
    return summary;
  }

  public static void main(String[] args) throws IOException {
    Options o;
    try {
      o = parse(args);
      // Every setting is checked before Spark starts: a bad one costs no cluster time.
      validate(o);
    } catch (IllegalArgumentException e) {
      if (e.getMessage() != null) System.err.println("error: " + e.getMessage());
      System.err.println(usage());
      System.exit(e.getMessage() == null ? 0 : 2);
      return;
    }
    SparkSession spark = SparkSession.builder().appName("resident").getOrCreate();
    int code = 0;
    try {
      run(spark, o);
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      code = 2;
    } finally {
      spark.stop();
    }
    if (code != 0) System.exit(code);
  }
}
