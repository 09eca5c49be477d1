package dev.resident.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.TestModels;
import dev.resident.internal.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The ready job through spark-submit in local-cluster mode: two executor JVMs, launched by the
 * scripts of the PyPI pyspark distribution, running the packaged jar. Load counts come from the
 * engine's own counter, through the job's summary.
 */
class ResidentJobClusterIT {
  private static final int ROWS = 32;
  @TempDir static Path dir;
  private static Path input;

  @BeforeAll
  static void writeInput() throws IOException {
    input = dir.resolve("prompts.jsonl");
    List<String> lines = new ArrayList<>();
    for (int i = 0; i < ROWS; i++) {
      lines.add("{\"id\": " + i + ", \"prompt\": \"Write one word about the number " + i + ".\"}");
    }
    Files.write(input, lines, StandardCharsets.UTF_8);
  }

  private static Path jar() {
    return Paths.get(System.getProperty("resident.jar"));
  }

  private static Path sparkSubmit() {
    return Paths.get(System.getProperty("spark.home"), "bin", "spark-submit");
  }

  /** Runs the job on the small model; returns its summary. */
  private static JsonNode submit(String name, String strategy, int partitions, String... extra)
      throws Exception {
    return submit(name, List.of(), TestModels.small(), input, strategy, partitions, null, extra);
  }

  /** What a test does while spark-submit runs (the driver is {@code submit}'s descendant). */
  private interface During {
    void run(Process submit, Path output) throws Exception;
  }

  /** Runs the job with spark-submit options before the jar; returns its summary. */
  private static JsonNode submit(
      String name,
      List<String> sparkOptions,
      String model,
      Path in,
      String strategy,
      int partitions,
      During during,
      String... extra)
      throws Exception {
    Path out = dir.resolve(name + ".jsonl");
    Path summary = dir.resolve(name + "-summary.json");
    List<String> cmd =
        new ArrayList<>(
            List.of(
                sparkSubmit().toString(),
                "--master",
                "local-cluster[2,1,1024]",
                "--conf",
                "spark.ui.enabled=false",
                "--conf",
                "spark.driver.host=127.0.0.1",
                "--conf",
                "spark.task.maxFailures=1",
                // Start only when both executors are up, so both get tasks.
                "--conf",
                "spark.scheduler.minRegisteredResourcesRatio=1.0",
                "--conf",
                "spark.scheduler.maxRegisteredResourcesWaitingTime=120s"));
    cmd.addAll(sparkOptions);
    cmd.addAll(
        List.of(
            "--class",
            "dev.resident.spark.ResidentJob",
            jar().toString(),
            "--model",
            model,
            "--input",
            in.toString(),
            "--output",
            out.toString(),
            "--strategy",
            strategy,
            "--partitions",
            Integer.toString(partitions),
            "--summary",
            summary.toString()));
    if (!model.equals(TestModels.efficientnet())) { // a text job's flags: refused for images
      cmd.addAll(
          List.of(
              "--max-tokens", "8", "--temperature", "0.7", "--seed", "11", "--ctx-size", "256"));
    }
    cmd.addAll(List.of(extra));
    Path log = dir.resolve(name + ".log");
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    if (during != null) during.run(p, out);
    if (!p.waitFor(10, TimeUnit.MINUTES)) {
      p.destroyForcibly();
      throw new AssertionError("spark-submit timed out; log: " + log);
    }
    assertEquals(0, p.exitValue(), () -> "spark-submit failed:\n" + tail(log));
    return Json.mapper().readTree(summary.toFile());
  }

  private static String tail(Path log) {
    try {
      List<String> lines = Files.readAllLines(log);
      return String.join("\n", lines.subList(Math.max(0, lines.size() - 60), lines.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /** Completions by row id, from the job's JSON-lines output folder. */
  private static Map<Integer, String> completions(String name) throws IOException {
    Map<Integer, String> out = new TreeMap<>();
    try (Stream<Path> files = Files.list(dir.resolve(name + ".jsonl"))) {
      for (Path f : files.filter(f -> f.getFileName().toString().startsWith("part-")).toList()) {
        for (String line : Files.readAllLines(f)) {
          JsonNode j = Json.mapper().readTree(line);
          assertTrue(j.path("error").isMissingNode() || j.path("error").isNull(), line);
          out.put(j.path("id").asInt(), j.path("completion").asText());
        }
      }
    }
    return out;
  }

  private static void assertOneLoadPerExecutor(JsonNode summary) {
    JsonNode executors = summary.path("executors");
    assertEquals(2, executors.size(), summary::toPrettyString);
    for (JsonNode e : executors) {
      assertEquals(1, e.path("model_loads").asLong(), summary::toPrettyString);
      assertTrue(e.path("rows_ok").asLong() > 0, summary::toPrettyString);
    }
    assertEquals(ROWS, summary.path("rows_ok").asLong());
    assertEquals(0, summary.path("rows_failed").asLong());
  }

  @Test
  void sharedStrategiesLoadOncePerExecutorAndPartitioningKeepsTheText() throws Exception {
    JsonNode batched = submit("batched-8", "shared-batched", 8);
    assertOneLoadPerExecutor(batched);
    JsonNode batched12 = submit("batched-12", "shared-batched", 12);
    assertOneLoadPerExecutor(batched12);
    Map<Integer, String> a = completions("batched-8");
    assertEquals(ROWS, a.size());
    assertEquals(a, completions("batched-12"), "same seeds, different partitioning");

    JsonNode shared = submit("shared-8", "shared", 8);
    assertOneLoadPerExecutor(shared);
    assertEquals(a, completions("shared-8"), "a predictor per task gives the same text");
  }

  @Test
  void aModelShippedWithFilesIsFoundByName() throws Exception {
    Path shipped = dir.resolve("shipped-model.gguf");
    Files.copy(Paths.get(TestModels.small()), shipped);
    JsonNode s =
        submit(
            "shipped",
            List.of("--files", shipped.toString()),
            "shipped-model.gguf",
            input,
            "shared-batched",
            2,
            null);
    assertEquals(ROWS, s.path("rows_ok").asLong(), s::toPrettyString);
  }

  /**
   * Kills one executor JVM with SIGKILL once the first write task has committed (its output lies in
   * the committer's {@code _temporary/0/task_*}), while the other tasks run.
   */
  private static void killOneExecutorMidJob(Process submit, Path output) throws Exception {
    Path committed = output.resolve("_temporary").resolve("0");
    long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(5);
    while (true) {
      if (!submit.isAlive()) throw new AssertionError("the job ended before the kill");
      if (System.nanoTime() > deadline) throw new AssertionError("no task committed in 5 min");
      if (Files.isDirectory(committed)) {
        try (Stream<Path> tasks = Files.list(committed)) {
          if (tasks.anyMatch(t -> t.getFileName().toString().startsWith("task_"))) break;
        }
      }
      if (Files.isDirectory(output)) { // a committer that writes in place
        try (Stream<Path> parts = Files.list(output)) {
          if (parts.anyMatch(t -> t.getFileName().toString().startsWith("part-"))) break;
        }
      }
      Thread.sleep(20);
    }
    ProcessHandle executor =
        submit
            .descendants()
            .filter(
                h ->
                    h.info()
                        .commandLine()
                        .orElse("")
                        .contains("org.apache.spark.executor.CoarseGrainedExecutorBackend"))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no executor JVM under spark-submit"));
    new ProcessBuilder("kill", "-9", Long.toString(executor.pid())).inheritIO().start().waitFor();
  }

  @Test
  void losingAnExecutorMidJobChangesNothingInTheOutput() throws Exception {
    String[] job = {"--max-tokens", "24"}; // the default determinism: invariant
    JsonNode calm = submit("calm", "shared-batched", 8, job);
    assertEquals(ROWS, calm.path("rows_ok").asLong(), calm::toPrettyString);
    JsonNode hit =
        submit(
            "executor-lost",
            // Tasks on the killed executor fail once and run again elsewhere.
            List.of("--conf", "spark.task.maxFailures=4"),
            TestModels.small(),
            input,
            "shared-batched",
            8,
            ResidentJobClusterIT::killOneExecutorMidJob,
            job);
    Map<Integer, String> expected = completions("calm");
    Map<Integer, String> got = completions("executor-lost");
    assertEquals(ROWS, rowCount("executor-lost"), "every input row exactly once");
    assertEquals(expected, got, "the same text for every row");
    assertEquals(ROWS, hit.path("rows_ok").asLong(), hit::toPrettyString);
    String driverLog = Files.readString(dir.resolve("executor-lost.log"));
    assertTrue(driverLog.contains("Lost executor"), () -> "no executor was lost:\n" + driverLog);
    driverLog.lines().filter(l -> l.contains("Lost ")).limit(5).forEach(System.out::println);
  }

  /** Lines in the job's output folder. */
  private static long rowCount(String name) throws IOException {
    long n = 0;
    try (Stream<Path> files = Files.list(dir.resolve(name + ".jsonl"))) {
      for (Path f : files.filter(f -> f.getFileName().toString().startsWith("part-")).toList()) {
        n += Files.readAllLines(f).size();
      }
    }
    return n;
  }

  @Test
  void aBadSettingFailsBeforeSparkStarts() throws Exception {
    Path log = dir.resolve("bad-setting.log");
    Process p =
        new ProcessBuilder(
                sparkSubmit().toString(),
                "--master",
                "local-cluster[2,1,1024]",
                "--class",
                "dev.resident.spark.ResidentJob",
                jar().toString(),
                "--model",
                TestModels.small(),
                "--input",
                input.toString(),
                "--output",
                dir.resolve("never.jsonl").toString(),
                "--max-tokens",
                "-1")
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    assertTrue(p.waitFor(3, TimeUnit.MINUTES), "spark-submit hung");
    String out = Files.readString(log);
    assertEquals(2, p.exitValue(), out);
    assertTrue(
        out.contains(
            "Param maxTokens is invalid: invalid_argument: max_tokens = -1: use 1 or more"),
        out);
    assertTrue(!out.contains("Running Spark version"), "Spark started:\n" + out);
  }

  @Test
  void perPartitionLoadsOncePerPartition() throws Exception {
    JsonNode s = submit("per-partition-8", "per-partition", 8);
    assertEquals(8, s.path("model_loads").asLong(), s::toPrettyString);
    assertEquals(ROWS, s.path("rows_ok").asLong());
  }

  /** Label and score bits by file name, from an image job's JSON-lines output folder. */
  private static Map<String, String> classes(String name) throws IOException {
    Map<String, String> out = new TreeMap<>();
    try (Stream<Path> files = Files.list(dir.resolve(name + ".jsonl"))) {
      for (Path f : files.filter(f -> f.getFileName().toString().startsWith("part-")).toList()) {
        for (String line : Files.readAllLines(f)) {
          JsonNode j = Json.mapper().readTree(line);
          String path = j.path("path").asText();
          out.put(
              path.substring(path.lastIndexOf('/') + 1),
              j.path("error").isMissingNode()
                  ? j.path("label").asText()
                      + "="
                      + Float.floatToIntBits((float) j.path("score").asDouble())
                  : "error");
        }
      }
    }
    return out;
  }

  @Test
  void imageJobsLoadOncePerExecutorWhenSharedAndOncePerPartitionOtherwise() throws Exception {
    Path photos = TestModels.photos();
    long images;
    try (Stream<Path> files = Files.list(photos)) {
      images = files.filter(f -> f.toString().matches(".*\\.(png|jpg)$")).count();
    }
    String model = TestModels.efficientnet();
    JsonNode batched =
        submit("images-batched", List.of(), model, photos, "shared-batched", 6, null);
    JsonNode executors = batched.path("executors");
    assertEquals(2, executors.size(), batched::toPrettyString);
    for (JsonNode e : executors) {
      assertEquals(1, e.path("model_loads").asLong(), batched::toPrettyString);
    }
    assertEquals(images, batched.path("rows_ok").asLong(), batched::toPrettyString);
    assertTrue(batched.path("images_per_second").asDouble() > 0, batched::toPrettyString);

    JsonNode perPartition =
        submit("images-per-partition", List.of(), model, photos, "per-partition", 6, null);
    assertEquals(6, perPartition.path("model_loads").asLong(), perPartition::toPrettyString);
    Map<String, String> a = classes("images-batched");
    assertEquals(images, a.size());
    assertEquals("espresso", a.get("coffee.png").split("=")[0]);
    assertEquals(a, classes("images-per-partition"), "labels and scores whatever the strategy");
  }
}
