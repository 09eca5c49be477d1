package dev.resident.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.resident.Classification;
import dev.resident.Classifier;
import dev.resident.ImageInput;
import dev.resident.Model;
import dev.resident.ModelSpec;
import dev.resident.Resident;
import dev.resident.TestModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Timestamp;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The image transformer end to end in local[2] on the real ImageNet model and real photos. */
class ImageClassifierTest {
  private static final List<String> PHOTOS =
      List.of("coffee.png", "chelsea.png", "rocket.jpg", "motorcycle_left.png", "astronaut.png");
  @TempDir static Path dir;
  private static Path images;

  @BeforeAll
  static void photos() throws IOException {
    Path src = TestModels.photos();
    images = Files.createDirectory(dir.resolve("images"));
    for (String p : PHOTOS) Files.copy(src.resolve(p), images.resolve(p));
    Files.write(images.resolve("notes.jpg"), "not an image".getBytes());
    byte[] png = Files.readAllBytes(src.resolve("chelsea.png"));
    Files.write(images.resolve("truncated.png"), java.util.Arrays.copyOf(png, 2000));
  }

  private static ImageClassifier classifier() {
    return new ImageClassifier().setModel(TestModels.efficientnet()).setInputCol("content");
  }

  private static Dataset<Row> files(SparkSession spark, int partitions) {
    return spark
        .read()
        .format("binaryFile")
        .load(images.toString())
        .repartition(partitions)
        .sortWithinPartitions("path");
  }

  private static String name(Row r) {
    String path = r.getAs("path");
    return path.substring(path.lastIndexOf('/') + 1);
  }

  /** Every row by file name: label, score and the top classes with their scores. */
  private static Map<String, String> outcomes(Dataset<Row> out) {
    Map<String, String> m = new TreeMap<>();
    for (Row r : out.collectAsList()) {
      String error = r.getAs("error");
      StringBuilder b = new StringBuilder();
      if (error != null) {
        b.append("error");
      } else {
        for (Row c : r.<Row>getList(r.fieldIndex("top_k"))) {
          b.append(c.getAs("label").toString())
              .append('=')
              .append(Float.floatToIntBits(c.getAs("score")))
              .append(';');
        }
      }
      m.put(name(r), b.toString());
    }
    return m;
  }

  @Test
  void aFolderOfPhotosGetsItsClassesAndBadFilesTheirErrors() {
    SparkSession spark = SparkSessions.local();
    ImageClassifier ic = classifier().setTopK(3);
    // The binaryFile source skips empty files: a zero-byte image is added as a row.
    Dataset<Row> folder = files(spark, 2);
    Dataset<Row> empty =
        spark.createDataFrame(
            List.of(RowFactory.create("file:/x/empty.png", new Timestamp(0), 0L, new byte[0])),
            folder.schema());
    List<Row> rows = ic.transform(folder.union(empty)).collectAsList();
    Map<String, Row> byName = new TreeMap<>();
    for (Row r : rows) byName.put(name(r), r);
    assertEquals(PHOTOS.size() + 3, rows.size(), "every file gives a row: " + byName.keySet());
    assertEquals("espresso", byName.get("coffee.png").getAs("label"));
    String cat = byName.get("chelsea.png").getAs("label");
    assertTrue(
        cat.startsWith("tabby") || cat.startsWith("tiger cat") || cat.startsWith("Egyptian cat"),
        cat);
    assertEquals(
        3, byName.get("coffee.png").getList(byName.get("coffee.png").fieldIndex("top_k")).size());
    assertTrue((Float) byName.get("coffee.png").getAs("score") > 0.5f);
    for (String bad : List.of("empty.png", "notes.jpg", "truncated.png")) {
      Row r = byName.get(bad);
      assertNull(r.getAs("label"), bad);
      assertNotNull(r.getAs("error"), bad);
    }
    assertTrue(byName.get("empty.png").<String>getAs("error").contains("empty"));
    JobMetrics.ExecutorTotals total = ic.lastMetrics().total();
    assertEquals(PHOTOS.size(), total.rowsOk);
    assertEquals(3, total.rowsFailed);
  }

  @Test
  void labelsAndScoresDoNotDependOnStrategyOrPartitioning() {
    SparkSession spark = SparkSessions.local();
    Map<String, String> want = null;
    for (String strategy : List.of("shared-batched", "shared", "per-partition")) {
      for (int partitions : new int[] {1, 3}) {
        ImageClassifier ic = classifier().setStrategy(strategy).setBatchSize(4);
        Map<String, String> got = outcomes(ic.transform(files(spark, partitions)));
        if (want == null) want = got;
        assertEquals(want, got, strategy + " at " + partitions + " partitions");
        long loads = ic.lastMetrics().total().loads;
        if (strategy.equals("per-partition")) {
          assertEquals(partitions, loads, "per-partition loads once per partition");
        } else {
          assertTrue(loads <= 1, strategy + " loads at most once per executor: " + loads);
        }
      }
    }
    // The Java API's lone classifier, one image at a time, agrees to the float.
    try (Model m =
            Resident.model(
                ModelSpec.builder(TestModels.efficientnet())
                    .engine("onnx")
                    .task("classify")
                    .threads(1)
                    .parallel(1)
                    .build());
        Classifier c = m.newClassifier(m.spec())) {
      for (String p : PHOTOS) {
        Classification got = c.classify(List.of(ImageInput.ofFile(read(p))), 5).get(0);
        StringBuilder b = new StringBuilder();
        for (Classification.ClassScore s : got.top()) {
          b.append(s.label()).append('=').append(Float.floatToIntBits(s.score())).append(';');
        }
        assertEquals(want.get(p), b.toString(), p + " through the Java API");
      }
    }
  }

  @Test
  void sparksImageSourceGivesThePixelsTheSameClassesAsTheFiles() {
    SparkSession spark = SparkSessions.local();
    Dataset<Row> decoded =
        spark
            .read()
            .format("image")
            .load(
                images.resolve("chelsea.png").toString(), images.resolve("coffee.png").toString());
    List<Row> rows =
        new ImageClassifier()
            .setModel(TestModels.efficientnet())
            .transform(decoded)
            .select(functions.col("image.origin"), functions.col("label"), functions.col("score"))
            .collectAsList();
    Map<String, String> files = outcomes(classifier().setTopK(1).transform(files(spark, 1)));
    assertEquals(2, rows.size());
    for (Row r : rows) {
      String origin = r.getString(0);
      String name = origin.substring(origin.lastIndexOf('/') + 1);
      String viaFile = files.get(name);
      assertEquals(
          viaFile,
          r.getString(1) + "=" + Float.floatToIntBits(r.getFloat(2)) + ";",
          name + ": pixels from the image source vs the file");
    }
  }

  @Test
  void savesLoadsAndChecksItsParamsBeforeAnyWork() throws IOException {
    ImageClassifier ic = classifier().setTopK(2).setStrategy("shared").setBatchSize(3);
    String path = dir.resolve("saved").toString();
    ic.write().overwrite().save(path);
    ImageClassifier back = ImageClassifier.load(path);
    assertEquals(ic.uid(), back.uid());
    assertEquals(2, (int) back.getOrDefault(back.topK()));
    assertEquals("shared", back.getOrDefault(back.strategy()));
    assertEquals(3, (int) back.getOrDefault(back.batchSize()));
    assertEquals(TestModels.efficientnet(), back.getOrDefault(back.model()));

    SparkSession spark = SparkSessions.local();
    Dataset<Row> in = files(spark, 1);
    assertThrows(IllegalArgumentException.class, () -> classifier().setTopK(0).transform(in));
    IllegalArgumentException batch =
        assertThrows(
            IllegalArgumentException.class, () -> classifier().setBatchSize(0).transform(in));
    assertTrue(batch.getMessage().contains("batchSize"), batch.getMessage());
    assertThrows(IllegalArgumentException.class, () -> classifier().setStrategy("x"));
    assertThrows(IllegalArgumentException.class, () -> new ImageClassifier().transform(in));
    IllegalArgumentException col =
        assertThrows(
            IllegalArgumentException.class, () -> classifier().setInputCol("path").transform(in));
    assertTrue(col.getMessage().contains("binary"), col.getMessage());
    IllegalArgumentException llm =
        assertThrows(
            IllegalArgumentException.class,
            () -> classifier().setModel(TestModels.small()).transform(in));
    assertTrue(llm.getMessage().contains("is a language model"), llm.getMessage());
  }

  private static byte[] read(String photo) {
    try {
      return Files.readAllBytes(images.resolve(photo));
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
