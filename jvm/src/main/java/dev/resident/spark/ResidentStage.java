package dev.resident.spark;

import dev.resident.internal.Contract;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.BooleanParam;
import org.apache.spark.ml.param.DoubleParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.LongParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.StringArrayParam;
import org.apache.spark.ml.util.DefaultParamsWritable;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * What Resident's transformers share: the Params every one has (the model, the input and error
 * columns, the loading strategy, the executor's threads and memory budget), the checks of a
 * schema's columns, and the executor facts a job's settings carry. {@code T} is the transformer, so
 * that setters chain.
 */
public abstract class ResidentStage<T extends ResidentStage<T>> extends Transformer
    implements DefaultParamsWritable {
  private static final long serialVersionUID = 1L;

  private final String uid;
  private final Param<String> model;
  private final Param<String> inputCol;
  private final Param<String> errorCol;
  private final Param<String> strategy;
  private final IntParam threads;
  private final Param<String> memoryBudget;

  /** Declares the shared Params, with this stage's words for its model and input column. */
  protected ResidentStage(String uid, String modelDoc, String inputColDoc, String inputColDefault) {
    this.uid = uid;
    model = new Param<>(this, "model", modelDoc);
    inputCol = new Param<>(this, "inputCol", inputColDoc);
    errorCol = new Param<>(this, "errorCol", "column for the row's error (null when it worked)");
    strategy =
        new Param<>(this, "strategy", "loading strategy: shared-batched, shared or per-partition");
    threads =
        new IntParam(this, "threads", "compute threads per executor; 0 = the executor's cores");
    memoryBudget =
        new Param<>(
            this,
            "memoryBudget",
            "native memory per executor for models and contexts, e.g. 6g; empty ="
                + " spark.executor.memoryOverhead (+ pyspark memory) where set, else the"
                + " container or machine");
    setDefault(inputCol, inputColDefault);
    setDefault(errorCol, "error");
    setDefault(strategy, Contract.defaultStrategy());
    setDefault(threads, 0);
    setDefault(memoryBudget, "");
  }

  @Override
  public String uid() {
    return uid;
  }

  @SuppressWarnings("unchecked")
  private T self() {
    return (T) this;
  }

  /** The transformer's name in error messages. */
  abstract String stageName();

  public Param<String> model() {
    return model;
  }

  public Param<String> inputCol() {
    return inputCol;
  }

  public Param<String> errorCol() {
    return errorCol;
  }

  public Param<String> strategy() {
    return strategy;
  }

  public IntParam threads() {
    return threads;
  }

  public Param<String> memoryBudget() {
    return memoryBudget;
  }

  /**
   * Sets the Param of this name from its text, converted to the Param's type (the SQL function's
   * options and the ready job's flags). IllegalArgumentException names the Param and the value.
   */
  public T setFromText(String name, String value) {
    if (!hasParam(name)) {
      throw new IllegalArgumentException(stageName() + " has no Param '" + name + "'");
    }
    Param<?> p = getParam(name);
    String v = value == null ? "" : value.trim();
    Object parsed;
    try {
      if (p instanceof IntParam) parsed = Integer.parseInt(v);
      else if (p instanceof LongParam) parsed = Long.parseLong(v);
      else if (p instanceof DoubleParam) parsed = Double.parseDouble(v);
      else if (p instanceof BooleanParam) {
        if (!v.equalsIgnoreCase("true") && !v.equalsIgnoreCase("false")) {
          throw new NumberFormatException();
        }
        parsed = Boolean.parseBoolean(v);
      } else if (p instanceof StringArrayParam) parsed = new String[] {value};
      else parsed = value;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          stageName() + ": Param " + name + " = '" + value + "' is not a valid " + kindOf(p), e);
    }
    set(getParam(name), parsed);
    return self();
  }

  private static String kindOf(Param<?> p) {
    if (p instanceof IntParam || p instanceof LongParam) return "integer";
    if (p instanceof DoubleParam) return "number";
    return "true or false";
  }

  /** The strategy Param, checked by the core's names; IllegalArgumentException naming it. */
  Strategy checkedStrategy() {
    try {
      return Strategy.parse(getOrDefault(strategy));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(
          stageName() + ": Param strategy is invalid: " + e.getMessage(), e);
    }
  }

  public T setModel(String v) {
    set(model, v);
    return self();
  }

  public T setInputCol(String v) {
    set(inputCol, v);
    return self();
  }

  public T setErrorCol(String v) {
    set(errorCol, v);
    return self();
  }

  public T setStrategy(String v) {
    set(strategy, Strategy.parse(v).label());
    return self();
  }

  public T setThreads(int v) {
    set(threads, v);
    return self();
  }

  public T setMemoryBudget(String v) {
    set(memoryBudget, v);
    return self();
  }

  /** The model Param's value; IllegalArgumentException with an example when it is not set. */
  String requiredModel(String example) {
    if (!isDefined(model) || getOrDefault(model).isEmpty()) {
      throw new IllegalArgumentException(
          stageName() + ": set the model Param (a catalog name such as " + example + ")");
    }
    return getOrDefault(model);
  }

  /** The executor facts a job's settings carry: budget, cores, task CPUs. */
  static final class Executors implements java.io.Serializable {
    private static final long serialVersionUID = 1L;

    long memoryBudgetBytes;
    String memoryBudgetSource;
    int executorCores;
    int taskCpus;
  }

  Executors executors(SparkSession spark) {
    Executors e = new Executors();
    ExecutorResources.Budget budget =
        ExecutorResources.memoryBudget(getOrDefault(memoryBudget), spark.sparkContext().getConf());
    e.memoryBudgetBytes = budget.bytes();
    e.memoryBudgetSource = budget.source();
    e.executorCores = ExecutorResources.executorCores(spark.sparkContext().getConf());
    e.taskCpus = spark.sparkContext().getConf().getInt("spark.task.cpus", 1);
    return e;
  }

  /** The input column's type; IllegalArgumentException naming the columns when it is missing. */
  DataType inputType(StructType schema, String hint) {
    String in = getOrDefault(inputCol);
    if (!Arrays.asList(schema.fieldNames()).contains(in)) {
      throw new IllegalArgumentException(
          stageName()
              + ": input column '"
              + in
              + "' is not in the data (its columns: "
              + String.join(", ", schema.fieldNames())
              + "); set inputCol"
              + hint);
    }
    return schema.apply(in).dataType();
  }

  /** Appends a nullable output column; refuses a name the data already has. */
  void addColumn(List<StructField> fields, String name, DataType type) {
    for (StructField f : fields) {
      if (f.name().equals(name)) {
        throw new IllegalArgumentException(
            stageName() + ": output column '" + name + "' already exists in the data; rename it");
      }
    }
    fields.add(DataTypes.createStructField(name, type, true));
  }
}
