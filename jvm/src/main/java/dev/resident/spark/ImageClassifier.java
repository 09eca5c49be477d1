package dev.resident.spark;

import dev.resident.ModelSpec;
import dev.resident.Resident;
import dev.resident.ResidentException;
import dev.resident.internal.Contract;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.util.DefaultParamsReader;
import org.apache.spark.ml.util.Identifiable$;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * A Spark ML transformer that classifies a column of images with an ONNX image classifier held
 * resident in each executor JVM. The column is either image files ({@code binaryFile}'s {@code
 * content}, any binary column of JPEG, PNG, BMP or GIF bytes) or Spark's {@code image} data source
 * struct (decoded pixels). It keeps every input column and row, in order, and adds the best label,
 * its score, the top classes and an error column: a bad image gets an error and the job goes on.
 *
 * <pre>{@code
 * Dataset<Row> out = new ImageClassifier()
 *     .setModel("efficientnet-lite0")
 *     .setInputCol("content")
 *     .transform(spark.read().format("binaryFile").load("photos/"));
 * }</pre>
 */
public class ImageClassifier extends ResidentStage<ImageClassifier> {
  private static final long serialVersionUID = 1L;
  private static final String STAGE = "ImageClassifier";

  private transient JobMetrics lastMetrics;

  private final Param<String> labelCol;
  private final Param<String> scoreCol;
  private final Param<String> topKCol;
  private final IntParam topK;
  private final IntParam batchSize;

  public ImageClassifier() {
    this(Identifiable$.MODULE$.randomUID("imageClassifier"));
  }

  public ImageClassifier(String uid) {
    super(
        uid,
        "the image classifier: a catalog name (e.g. efficientnet-lite0, pulled into each node's"
            + " model cache), an .onnx path every executor can read, or a file shipped with"
            + " --files / addFile",
        "column of images: binary image files, or the image data source's struct",
        "image");
    labelCol = new Param<>(this, "labelCol", "column for the best class's label (null on error)");
    scoreCol = new Param<>(this, "scoreCol", "column for the best class's score (null on error)");
    topKCol =
        new Param<>(
            this, "topKCol", "column for the top classes: array of struct<label, index, score>");
    topK = new IntParam(this, "topK", "classes per image in the top-k column, best first");
    batchSize =
        new IntParam(
            this, "batchSize", "images per inference call (shared-batched: from every task)");
    setDefault(labelCol, "label");
    setDefault(scoreCol, "score");
    setDefault(topKCol, "top_k");
    setDefault(topK, Contract.classifyDefault("top_k").asInt());
    setDefault(batchSize, Contract.specDefault("parallel").asInt()); // images per run = parallel
  }

  @Override
  String stageName() {
    return STAGE;
  }

  // --- Params ---

  public Param<String> labelCol() {
    return labelCol;
  }

  public Param<String> scoreCol() {
    return scoreCol;
  }

  public Param<String> topKCol() {
    return topKCol;
  }

  public IntParam topK() {
    return topK;
  }

  public IntParam batchSize() {
    return batchSize;
  }

  // --- setters ---

  public ImageClassifier setLabelCol(String v) {
    set(labelCol, v);
    return this;
  }

  public ImageClassifier setScoreCol(String v) {
    set(scoreCol, v);
    return this;
  }

  public ImageClassifier setTopKCol(String v) {
    set(topKCol, v);
    return this;
  }

  public ImageClassifier setTopK(int v) {
    set(topK, v);
    return this;
  }

  public ImageClassifier setBatchSize(int v) {
    set(batchSize, v);
    return this;
  }

  // --- the transformer ---

  /**
   * Checks every Param that needs no data, by the engine's rules, without a Spark session;
   * IllegalArgumentException names the Param. {@link #transform} checks the same.
   */
  public void validateParams() {
    checkedParams();
  }

  private ClassifierSettings checkedParams() {
    ClassifierSettings s = new ClassifierSettings();
    s.model = requiredModel("efficientnet-lite0, or an .onnx path");
    s.topK = (Integer) getOrDefault(topK);
    s.strategy = checkedStrategy();
    s.batchSize = (Integer) getOrDefault(batchSize);
    s.threads = (Integer) getOrDefault(threads());
    if (s.topK < 1) {
      throw new IllegalArgumentException(STAGE + ": Param topK = " + s.topK + ": use 1 or more");
    }
    ModelSpec spec =
        ModelSpec.builder(s.model)
            .engine("onnx")
            .task("classify")
            .threads(s.threads)
            .parallel(s.batchSize)
            .build();
    try {
      Resident.validate(spec);
    } catch (ResidentException e) {
      if (e.code() != ResidentException.Code.INVALID_ARGUMENT) throw e;
      String param = TextGenerator.paramOf(e.getMessage());
      if (param.equals("parallel")) param = "batchSize";
      throw new IllegalArgumentException(
          STAGE + ": Param " + param + " is invalid: " + e.getMessage(), e);
    }
    return s;
  }

  ClassifierSettings settings(StructType schema, SparkSession spark) {
    ClassifierSettings s = checkedParams();
    String in = getOrDefault(inputCol());
    s.inputIndex = schema.fieldIndex(in);
    DataType t = schema.apply(in).dataType();
    if (t instanceof StructType) {
      StructType img = (StructType) t;
      s.dataIndex = img.fieldIndex("data");
      s.widthIndex = img.fieldIndex("width");
      s.heightIndex = img.fieldIndex("height");
      s.channelsIndex = img.fieldIndex("nChannels");
    }
    s.executors = executors(spark);
    return s;
  }

  @Override
  public Dataset<Row> transform(Dataset<?> dataset) {
    StructType out = transformSchema(dataset.schema());
    SparkSession spark = dataset.sparkSession();
    ClassifierSettings s = settings(dataset.schema(), spark);
    JobMetrics metrics = JobMetrics.register(spark.sparkContext());
    lastMetrics = metrics;
    return dataset.toDF().mapPartitions(new PartitionClassifier(s, metrics), Encoders.row(out));
  }

  /** The metrics of the last {@link #transform}: per executor, loads, load seconds, rows. */
  public JobMetrics lastMetrics() {
    return lastMetrics;
  }

  /** The type of the top-k column: array of struct<label: string, index: int, score: float>. */
  public static final DataType TOP_K_TYPE =
      DataTypes.createArrayType(
          DataTypes.createStructType(
              new StructField[] {
                DataTypes.createStructField("label", DataTypes.StringType, false),
                DataTypes.createStructField("index", DataTypes.IntegerType, false),
                DataTypes.createStructField("score", DataTypes.FloatType, false)
              }),
          false);

  @Override
  public StructType transformSchema(StructType schema) {
    String in = getOrDefault(inputCol());
    DataType t =
        inputType(schema, " ('content' for the binaryFile source, 'image' for the image source)");
    if (!t.equals(DataTypes.BinaryType) && !isImageStruct(t)) {
      throw new IllegalArgumentException(
          STAGE
              + ": input column '"
              + in
              + "' is "
              + t.simpleString()
              + ": use binary image files, or the image source's struct<data, width, height,"
              + " nChannels, ...>");
    }
    List<StructField> fields = new ArrayList<>(Arrays.asList(schema.fields()));
    addColumn(fields, getOrDefault(labelCol), DataTypes.StringType);
    addColumn(fields, getOrDefault(scoreCol), DataTypes.FloatType);
    addColumn(fields, getOrDefault(topKCol), TOP_K_TYPE);
    addColumn(fields, getOrDefault(errorCol()), DataTypes.StringType);
    return new StructType(fields.toArray(new StructField[0]));
  }

  private static boolean isImageStruct(DataType t) {
    if (!(t instanceof StructType)) return false;
    List<String> names = Arrays.asList(((StructType) t).fieldNames());
    return names.containsAll(List.of("data", "width", "height", "nChannels"));
  }

  @Override
  public ImageClassifier copy(ParamMap extra) {
    return defaultCopy(extra);
  }

  public static MLReader<ImageClassifier> read() {
    return new DefaultParamsReader<>();
  }

  public static ImageClassifier load(String path) {
    return read().load(path);
  }
}
