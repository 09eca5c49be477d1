package dev.resident.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The ready job's input: one pass, its own partitions, Spark's own column types. */
class JobInputTest {
  @Test
  void jsonColumnsAreTypedAsSparksOwnInferenceTypesThem(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("in.jsonl");
    Files.write(
        f,
        List.of(
            "{\"id\": 1, \"prompt\": \"a\", \"score\": 1, \"tags\": [\"x\"], \"extra\": null}",
            "{\"prompt\": \"b\", \"id\": 2, \"score\": 2.5, \"messages\": [{\"role\": \"user\","
                + " \"content\": \"hi\"}], \"meta\": {\"b\": true, \"a\": 3}}",
            "not json at all",
            "{\"id\": \"three\", \"prompt\": \"c\", \"meta\": {\"c\": \"s\"}}"),
        StandardCharsets.UTF_8);
    SparkSession spark = SparkSessions.local();
    assertEquals(
        spark.read().option("mode", "DROPMALFORMED").json(f.toString()).schema(),
        JobInput.jsonSchema(
            spark.sparkContext().hadoopConfiguration(),
            JobInput.files(spark.sparkContext().hadoopConfiguration(), f.toString())));
  }

  @Test
  void lineFilesAreSplitIntoTheAskedPartitionsInOrderWithoutAShuffle(@TempDir Path dir)
      throws Exception {
    Path f = dir.resolve("in.jsonl");
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < 40; i++) lines.add("{\"id\": " + i + ", \"prompt\": \"p" + i + "\"}");
    Files.write(f, lines, StandardCharsets.UTF_8);
    SparkSession spark = SparkSessions.local().newSession();
    Dataset<Row> in = JobInput.read(spark, f.toString(), "json", 4);
    assertEquals(4, in.rdd().getNumPartitions());
    String plan = in.queryExecution().executedPlan().toString();
    assertFalse(plan.contains("Exchange"), plan);
    List<Row> rows = in.collectAsList();
    assertEquals(40, rows.size());
    for (int i = 0; i < rows.size(); i++) assertEquals(i, rows.get(i).<Long>getAs("id"));
  }

  @Test
  void csvColumnsComeFromTheHeaderLine(@TempDir Path dir) throws Exception {
    Path f = dir.resolve("in.csv");
    Files.write(
        f,
        List.of("id,\"the, prompt\",note", "1,\"hello, world\",x", "2,bye,y"),
        StandardCharsets.UTF_8);
    SparkSession spark = SparkSessions.local().newSession();
    Dataset<Row> in = JobInput.read(spark, f.toString(), "csv", 0);
    assertEquals(List.of("id", "the, prompt", "note"), List.of(in.schema().fieldNames()));
    assertEquals("hello, world", in.collectAsList().get(0).getString(1));
  }
}
