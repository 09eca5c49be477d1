// The seed's comparison job with java-llama.cpp (de.kherud:llama), written as
// a user of that library would write it at its best: one LlamaModel per
// executor JVM (a lazy holder), its server slots fed by `parallel` threads per
// task, the input read once without inference or shuffle (the same split as
// Resident's ready job), JSON lines out. Timed from reading the input to the
// written output, as ResidentJob times itself. Used by bench/vs_jllama.py only.
//
//   spark-submit --jars llama-4.2.0.jar --class JllamaJob jllama-job.jar \
//       MODEL INPUT OUTPUT PARTITIONS MAX_TOKENS PARALLEL CTX_PER_SLOT THREADS
import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.ModelParameters;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

public final class JllamaJob {
  private static LlamaModel model; // one per executor JVM

  static synchronized LlamaModel model(String path, int parallel, int ctxPerSlot, int threads) {
    if (model == null) {
      model =
          new LlamaModel(
              new ModelParameters()
                  .setModel(path)
                  .setParallel(parallel)
                  .setCtxSize(ctxPerSlot * parallel)
                  .setThreads(threads)
                  .enableContBatching());
    }
    return model;
  }

  public static void main(String[] a) throws Exception {
    String modelPath = a[0], input = a[1], output = a[2];
    int partitions = Integer.parseInt(a[3]), maxTokens = Integer.parseInt(a[4]);
    int parallel = Integer.parseInt(a[5]), ctxPerSlot = Integer.parseInt(a[6]);
    int threads = Integer.parseInt(a[7]);
    SparkSession spark = SparkSession.builder().appName("jllama").getOrCreate();
    long t0 = System.nanoTime();
    long bytes = Files.size(java.nio.file.Paths.get(input));
    spark
        .conf()
        .set(
            "spark.sql.files.maxPartitionBytes",
            Long.toString((bytes + partitions - 1) / partitions));
    spark
        .conf()
        .set(
            "spark.sql.files.openCostInBytes",
            Long.toString((bytes + partitions - 1) / partitions));
    StructType in =
        new StructType().add("id", DataTypes.LongType).add("prompt", DataTypes.StringType);
    StructType out = in.add("completion", DataTypes.StringType);
    Dataset<Row> rows = spark.read().schema(in).json(input);
    MapPartitionsFunction<Row, Row> generate =
        it -> {
          LlamaModel m = model(modelPath, parallel, ctxPerSlot, threads);
          ExecutorService pool = Executors.newFixedThreadPool(parallel);
          List<Row> inRows = new ArrayList<>();
          List<Future<String>> done = new ArrayList<>();
          while (it.hasNext()) {
            Row r = it.next();
            inRows.add(r);
            String prompt = r.getString(1);
            done.add(
                pool.submit(
                    () ->
                        m.complete(
                            new InferenceParameters(prompt)
                                .setNPredict(maxTokens)
                                .setTemperature(0f)
                                .setCachePrompt(false))));
          }
          List<Row> result = new ArrayList<>();
          for (int i = 0; i < inRows.size(); i++) {
            Row r = inRows.get(i);
            result.add(RowFactory.create(r.get(0), r.get(1), done.get(i).get()));
          }
          pool.shutdown();
          return result.iterator();
        };
    rows.mapPartitions(generate, Encoders.row(out)).write().mode(SaveMode.Overwrite).json(output);
    double wall = (System.nanoTime() - t0) / 1e9;
    System.out.printf("JLLAMA_WALL_SECONDS %.3f%n", wall);
    spark.stop();
  }
}
