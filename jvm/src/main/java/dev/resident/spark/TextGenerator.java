package dev.resident.spark;

import dev.resident.GenerationRequest;
import dev.resident.ModelSpec;
import dev.resident.Resident;
import dev.resident.ResidentException;
import dev.resident.internal.Contract;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A Spark ML transformer that turns a column of prompts into completions with a GGUF language model
 * held resident in each executor JVM. It keeps every input column and row (in order) and adds the
 * completion, token counts, finish reason and an error column: a bad row gets an error and the job
 * goes on. Saved and loaded like any Spark ML stage.
 *
 * <pre>{@code
 * Dataset<Row> out = new TextGenerator()
 *     .setModel("smollm2-135m-instruct")
 *     .setInputCol("prompt")
 *     .setMaxTokens(64)
 *     .transform(prompts);
 * }</pre>
 */
public class TextGenerator extends ResidentStage<TextGenerator> {
  private static final long serialVersionUID = 1L;

  private transient JobMetrics lastMetrics;

  private final Param<String> outputCol;
  private final Param<String> promptTokensCol;
  private final Param<String> completionTokensCol;
  private final Param<String> finishReasonCol;
  private final Param<String> idCol;
  private final IntParam maxTokens;
  private final DoubleParam temperature;
  private final IntParam topK;
  private final DoubleParam topP;
  private final DoubleParam minP;
  private final LongParam seed;
  private final StringArrayParam stop;
  private final Param<String> systemPrompt;
  private final Param<String> promptTemplate;
  private final BooleanParam chat;
  private final IntParam parallel;
  private final IntParam ctxSize;
  private final Param<String> determinism;
  private final Param<String> weights;
  private final IntParam kvTokens;
  private final DoubleParam rowTimeout;

  public TextGenerator() {
    this(Identifiable$.MODULE$.randomUID("textGenerator"));
  }

  public TextGenerator(String uid) {
    super(
        uid,
        "the model: a catalog name (pulled into each node's model cache), a path every"
            + " executor can read, or the name of a file shipped with --files / addFile",
        "column of prompts: a string, or an array of {role, content}",
        "prompt");
    outputCol = new Param<>(this, "outputCol", "column for the completion (null on error)");
    promptTokensCol = new Param<>(this, "promptTokensCol", "column for the prompt's tokens");
    completionTokensCol =
        new Param<>(this, "completionTokensCol", "column for the completion's tokens");
    finishReasonCol =
        new Param<>(
            this, "finishReasonCol", "column for why generation ended: stop, length or context");
    idCol =
        new Param<>(
            this,
            "idCol",
            "column of row ids, which seed each row's sampler (used when the data has it; empty:"
                + " none); a row without an id is seeded by its prompt, so a row's text never"
                + " depends on partitioning (docs/rows.md)");
    maxTokens = new IntParam(this, "maxTokens", "tokens to generate at most per row");
    temperature = new DoubleParam(this, "temperature", "sampling temperature; 0 = greedy");
    topK = new IntParam(this, "topK", "top-k sampling; 0 = off");
    topP = new DoubleParam(this, "topP", "top-p sampling; 1 = off");
    minP = new DoubleParam(this, "minP", "min-p sampling; 0 = off");
    seed = new LongParam(this, "seed", "base seed, mixed with each row's key");
    stop = new StringArrayParam(this, "stop", "stop strings: generation ends before a match");
    systemPrompt =
        new Param<>(this, "systemPrompt", "system message; renders the prompt as a chat");
    promptTemplate =
        new Param<>(
            this,
            "promptTemplate",
            "template around a string prompt, with {prompt} where the prompt goes; empty: none");
    chat =
        new BooleanParam(
            this, "chat", "render string prompts with the model's chat template as a user message");
    parallel = new IntParam(this, "parallel", "sequences in flight per executor (shared-batched)");
    ctxSize = new IntParam(this, "ctxSize", "tokens of context per sequence");
    determinism =
        new Param<>(
            this,
            "determinism",
            "invariant (default: a seeded row's text never depends on the batch, partitioning"
                + " or retries) or fast (fastest kernels; the text can change with the batch)");
    weights =
        new Param<>(
            this,
            "weights",
            "auto, shared (mapped: one copy per node) or private (repacked: faster, a copy per"
                + " executor; under determinism invariant only where the CPU has AMX)");
    kvTokens =
        new IntParam(
            this,
            "kvTokens",
            "KV cache cells per sequence; 0 = sized to the rows (prompt + maxTokens), grown on"
                + " demand");

    rowTimeout =
        new DoubleParam(
            this,
            "rowTimeout",
            "seconds a row may take from its submission to the engine (time queued included)"
                + " before it fails with deadline_exceeded; 0 = no limit");

    setDefault(outputCol, "completion");
    setDefault(promptTokensCol, "prompt_tokens");
    setDefault(completionTokensCol, "completion_tokens");
    setDefault(finishReasonCol, "finish_reason");
    setDefault(idCol, Contract.idField());
    // The defaults of the engine's settings are the C++ core's, read from it (they show in
    // explainParams and in Python); only the Params a user sets are sent to the engine.
    setDefault(maxTokens, Contract.ruleDefault("max_tokens").asInt());
    setDefault(temperature, Contract.ruleDefault("temperature").asDouble());
    setDefault(topK, Contract.ruleDefault("top_k").asInt());
    setDefault(topP, Contract.ruleDefault("top_p").asDouble());
    setDefault(minP, Contract.ruleDefault("min_p").asDouble());
    setDefault(seed, Contract.specDefault("seed").asLong());
    setDefault(stop, new String[0]);
    setDefault(systemPrompt, Contract.ruleDefault("system_prompt").asText());
    setDefault(promptTemplate, Contract.ruleDefault("prompt_template").asText());
    setDefault(chat, Contract.ruleDefault("chat").asBoolean());
    setDefault(parallel, Contract.specDefault("parallel").asInt());
    setDefault(ctxSize, Contract.specDefault("ctx_size").asInt());
    setDefault(determinism, Contract.specDefault("determinism").asText());
    setDefault(weights, Contract.specDefault("weights").asText());
    setDefault(kvTokens, Contract.specDefault("kv_tokens").asInt());
    setDefault(rowTimeout, Contract.ruleDefault("timeout_seconds").asDouble());
  }

  @Override
  String stageName() {
    return "TextGenerator";
  }

  // --- Params (Spark finds them through these public no-argument methods) ---

  public Param<String> outputCol() {
    return outputCol;
  }

  public Param<String> promptTokensCol() {
    return promptTokensCol;
  }

  public Param<String> completionTokensCol() {
    return completionTokensCol;
  }

  public Param<String> finishReasonCol() {
    return finishReasonCol;
  }

  public Param<String> idCol() {
    return idCol;
  }

  public IntParam maxTokens() {
    return maxTokens;
  }

  public DoubleParam temperature() {
    return temperature;
  }

  public IntParam topK() {
    return topK;
  }

  public DoubleParam topP() {
    return topP;
  }

  public DoubleParam minP() {
    return minP;
  }

  public LongParam seed() {
    return seed;
  }

  public StringArrayParam stop() {
    return stop;
  }

  public Param<String> systemPrompt() {
    return systemPrompt;
  }

  public Param<String> promptTemplate() {
    return promptTemplate;
  }

  public BooleanParam chat() {
    return chat;
  }

  public IntParam parallel() {
    return parallel;
  }

  public IntParam ctxSize() {
    return ctxSize;
  }

  public Param<String> determinism() {
    return determinism;
  }

  // --- setters ---

  public TextGenerator setOutputCol(String v) {
    set(outputCol, v);
    return this;
  }

  public TextGenerator setPromptTokensCol(String v) {
    set(promptTokensCol, v);
    return this;
  }

  public TextGenerator setCompletionTokensCol(String v) {
    set(completionTokensCol, v);
    return this;
  }

  public TextGenerator setFinishReasonCol(String v) {
    set(finishReasonCol, v);
    return this;
  }

  public TextGenerator setIdCol(String v) {
    set(idCol, v);
    return this;
  }

  public TextGenerator setMaxTokens(int v) {
    set(maxTokens, v);
    return this;
  }

  public TextGenerator setTemperature(double v) {
    set(temperature, v);
    return this;
  }

  public TextGenerator setTopK(int v) {
    set(topK, v);
    return this;
  }

  public TextGenerator setTopP(double v) {
    set(topP, v);
    return this;
  }

  public TextGenerator setMinP(double v) {
    set(minP, v);
    return this;
  }

  public TextGenerator setSeed(long v) {
    set(seed, v);
    return this;
  }

  public TextGenerator setStop(String... v) {
    set(stop, v);
    return this;
  }

  public TextGenerator setSystemPrompt(String v) {
    set(systemPrompt, v);
    return this;
  }

  public TextGenerator setPromptTemplate(String v) {
    set(promptTemplate, v);
    return this;
  }

  public TextGenerator setChat(boolean v) {
    set(chat, v);
    return this;
  }

  public TextGenerator setParallel(int v) {
    set(parallel, v);
    return this;
  }

  public TextGenerator setCtxSize(int v) {
    set(ctxSize, v);
    return this;
  }

  public TextGenerator setDeterminism(String v) {
    set(determinism, v);
    return this;
  }

  public Param<String> weights() {
    return weights;
  }

  public TextGenerator setWeights(String v) {
    set(weights, v);
    return this;
  }

  public IntParam kvTokens() {
    return kvTokens;
  }

  public TextGenerator setKvTokens(int v) {
    set(kvTokens, v);
    return this;
  }

  public DoubleParam rowTimeout() {
    return rowTimeout;
  }

  public TextGenerator setRowTimeout(double v) {
    set(rowTimeout, v);
    return this;
  }

  // --- the transformer ---

  /** The settings the executors work from: every Param, checked, in one serializable value. */
  GeneratorSettings settings(StructType schema, SparkSession spark) {
    GeneratorSettings s = settings(executors(spark));
    String in = getOrDefault(inputCol());
    s.inputIndex = schema.fieldIndex(in);
    s.idIndex = idIndex(schema);
    return s;
  }

  /** The settings from the Params and the executors' resources (the SQL function's too). */
  GeneratorSettings settings(Executors e) {
    GeneratorSettings s = checkedParams();
    s.memoryBudgetBytes = e.memoryBudgetBytes;
    s.memoryBudgetSource = e.memoryBudgetSource;
    s.executorCores = e.executorCores;
    s.taskCpus = e.taskCpus;
    return s;
  }

  /**
   * Checks every Param that needs no data by the engine's own rules, without a Spark session: a job
   * can fail on a bad setting before it starts one. IllegalArgumentException names the Param, its
   * value and its valid range. {@link #transform} checks the same.
   */
  public void validateParams() {
    checkedParams();
  }

  /** The settings that come from Params alone, checked. */
  private GeneratorSettings checkedParams() {
    GeneratorSettings s = new GeneratorSettings();
    s.model = requiredModel("smollm2-135m-instruct, or a .gguf path");
    GenerationRequest r = s.rules;
    ifSet(maxTokens, v -> r.maxTokens((Integer) v));
    ifSet(temperature, v -> r.temperature(((Double) v).floatValue()));
    ifSet(topK, v -> r.topK((Integer) v));
    ifSet(topP, v -> r.topP(((Double) v).floatValue()));
    ifSet(minP, v -> r.minP(((Double) v).floatValue()));
    ifSet(stop, v -> r.stop(Arrays.asList((String[]) v)));
    ifSet(systemPrompt, v -> r.systemPrompt((String) v));
    ifSet(promptTemplate, v -> r.promptTemplate((String) v));
    ifSet(chat, v -> r.chat((Boolean) v));
    ifSet(rowTimeout, v -> r.timeoutSeconds((Double) v));
    ModelSpec.Builder o = ModelSpec.builder(s.model);
    ifSet(ctxSize, v -> o.ctxSize((Integer) v));
    ifSet(determinism, v -> o.determinism((String) v));
    ifSet(weights, v -> o.weights((String) v));
    ifSet(kvTokens, v -> o.kvTokens((Integer) v));
    ifSet(seed, v -> o.seed((Long) v));
    s.options = o.build();
    s.strategy = checkedStrategy();
    s.parallel = (Integer) getOrDefault(parallel);
    s.threads = (Integer) getOrDefault(threads());
    check(s);
    return s;
  }

  /** Hands the Param's value on when a user set it (a default is the core's, not sent). */
  private void ifSet(Param<?> p, java.util.function.Consumer<Object> use) {
    if (isSet(p)) use.accept(getOrDefault(p));
  }

  /**
   * Checks the Params by the engine's own rules (their one home is the core), before any work:
   * IllegalArgumentException naming the Param, its value and its valid range.
   */
  private static void check(GeneratorSettings s) {
    ModelSpec spec = s.options.toBuilder().threads(s.threads).parallel(s.parallel).build();
    try {
      Resident.validate(spec, s.rules.forRow("-", null, null));
    } catch (ResidentException e) {
      if (e.code() != ResidentException.Code.INVALID_ARGUMENT) throw e;
      throw new IllegalArgumentException(
          "TextGenerator: Param " + paramOf(e.getMessage()) + " is invalid: " + e.getMessage(), e);
    }
  }

  /** The Param a core message is about: "top_p = 2: ..." is topP, "unknown weights ..." weights. */
  static String paramOf(String message) {
    if (message.contains("model '")) return "model"; // e.g. a language model given to classify
    Matcher m = FIELD.matcher(message);
    if (!m.find()) return "(see the message)";
    String field = m.group(1) != null ? m.group(1) : m.group(2);
    if (field.equals("timeout_seconds")) return "rowTimeout"; // the one Param named otherwise
    StringBuilder b = new StringBuilder(); // snake_case to camelCase: top_p is topP
    boolean upper = false;
    for (char c : field.toCharArray()) {
      if (c == '_') {
        upper = true;
      } else {
        b.append(upper ? Character.toUpperCase(c) : c);
        upper = false;
      }
    }
    return b.toString();
  }

  private static final Pattern FIELD =
      Pattern.compile("(?:^|: )(?:([a-z_]+) = |unknown ([a-z_]+))");

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType out = transformSchema(dataset.schema());
    SparkSession spark = dataset.sparkSession();
    GeneratorSettings s = settings(dataset.schema(), spark);
    JobMetrics metrics = JobMetrics.register(spark.sparkContext());
    lastMetrics = metrics;
    return dataset.toDF().mapPartitions(new PartitionGenerator(s, metrics), Encoders.row(out));
  }

  /**
   * The metrics of the last {@link #transform} on this instance, filled in as its result is
   * computed: per executor, model loads and load seconds, rows ok and failed, tokens in and out.
   */
  public JobMetrics lastMetrics() {
    return lastMetrics;
  }

  @Override
  public StructType transformSchema(StructType schema) {
    String in = getOrDefault(inputCol());
    DataType t = inputType(schema, "");
    if (!t.equals(DataTypes.StringType) && !isChatType(t)) {
      throw new IllegalArgumentException(
          "TextGenerator: input column '"
              + in
              + "' is "
              + t.simpleString()
              + ": use a string, or an array of struct<role: string, content: string>");
    }
    String id = getOrDefault(idCol);
    boolean present = Arrays.asList(schema.fieldNames()).contains(id);
    if (isSet(idCol) && !id.isEmpty() && !present) {
      throw new IllegalArgumentException(
          "TextGenerator: id column '" + id + "' is not in the data; set idCol or leave it empty");
    }
    if (present && !isIdType(schema.apply(id).dataType())) {
      throw new IllegalArgumentException(
          "TextGenerator: id column '"
              + id
              + "' is "
              + schema.apply(id).dataType().simpleString()
              + ": an id is a string, a number or a boolean; set idCol to another column, or to"
              + " empty for none");
    }
    List<StructField> fields = new ArrayList<>(Arrays.asList(schema.fields()));
    addColumn(fields, getOrDefault(outputCol), DataTypes.StringType);
    addColumn(fields, getOrDefault(promptTokensCol), DataTypes.IntegerType);
    addColumn(fields, getOrDefault(completionTokensCol), DataTypes.IntegerType);
    addColumn(fields, getOrDefault(finishReasonCol), DataTypes.StringType);
    addColumn(fields, getOrDefault(errorCol()), DataTypes.StringType);
    return new StructType(fields.toArray(new StructField[0]));
  }

  private static boolean isChatType(DataType t) {
    if (!(t instanceof ArrayType)) return false;
    DataType e = ((ArrayType) t).elementType();
    if (!(e instanceof StructType)) return false;
    StructType m = (StructType) e;
    List<String> names = Arrays.asList(m.fieldNames());
    return names.contains("role")
        && names.contains("content")
        && m.apply("role").dataType().equals(DataTypes.StringType)
        && m.apply("content").dataType().equals(DataTypes.StringType);
  }

  /** The id column's index: idCol when the data has it (checked by transformSchema), else -1. */
  private int idIndex(StructType schema) {
    String id = getOrDefault(idCol);
    return !id.isEmpty() && Arrays.asList(schema.fieldNames()).contains(id)
        ? schema.fieldIndex(id)
        : -1;
  }

  /** Types whose values the row contract reads as an id: text, numbers, booleans. */
  private static boolean isIdType(DataType t) {
    return t.equals(DataTypes.StringType)
        || t instanceof org.apache.spark.sql.types.NumericType
        || t.equals(DataTypes.BooleanType);
  }

  @Override
  public TextGenerator copy(ParamMap extra) {
    return defaultCopy(extra);
  }

  public static MLReader<TextGenerator> read() {
    return new DefaultParamsReader<>();
  }

  public static TextGenerator load(String path) {
    return read().load(path);
  }
}
