package dev.resident.spark;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.BatchEngine;
import dev.resident.ClassifyEngine;
import dev.resident.Model;
import dev.resident.ModelSpec;
import dev.resident.Resident;
import dev.resident.internal.Json;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.apache.spark.SparkFiles;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The models and batch engines this executor JVM holds for Spark jobs: created by the first task
 * that needs one (the others wait for it), kept for the life of the JVM, released by {@link
 * Resident}'s shutdown hook. One closed meanwhile (by {@link Resident#evict} or {@link
 * Resident#shutdown}) is replaced by the next task that asks for it. Thread-safe.
 */
final class ExecutorModels {
  private static final Logger LOG = LoggerFactory.getLogger(ExecutorModels.class);
  private static final Map<ModelSpec, Model> MODELS = new ConcurrentHashMap<>();
  private static final Map<ModelSpec, BatchEngine> ENGINES = new ConcurrentHashMap<>();
  private static final Map<ModelSpec, ClassifyEngine> CLASSIFY_ENGINES = new ConcurrentHashMap<>();

  private ExecutorModels() {}

  /**
   * Where this executor finds the model: a file shipped with the job ({@code --files}, {@code
   * addFile}) by its name, else the value as given (a path, or a catalog name that the engine pulls
   * into this node's model cache, once per node under a file lock).
   */
  static String locate(String model) {
    if (!Files.exists(Paths.get(model)) && !model.contains(File.separator)) {
      try {
        String shipped = SparkFiles.get(model);
        if (new File(shipped).isFile()) return shipped;
      } catch (RuntimeException e) {
        // No SparkEnv (not in a task) or no such file: fall through.
      }
    }
    return model;
  }

  /**
   * Sets this executor's native memory budget from the job's settings: every load and context of
   * this JVM is then checked against it, and idle models are evicted for it. A job without a budget
   * ({@code bytes} 0) goes back to the default (the container's limit, else the machine's memory),
   * never keeps an earlier job's. Cheap when nothing changes ({@link Resident#setMemoryBudget}).
   */
  static void applyBudget(long bytes, String source) {
    if (bytes > 0) {
      Resident.setMemoryBudget(bytes, source);
    } else {
      Resident.setMemoryBudget(0, "");
    }
  }

  /** The batch engine of this JVM for the spec (strategy shared-batched). */
  static BatchEngine engine(ModelSpec spec) {
    return open(ENGINES, spec, BatchEngine::isClosed, s -> logLoad(s, () -> Resident.engine(s)));
  }

  /** The classify engine of this JVM for the spec (image models, strategy shared-batched). */
  static ClassifyEngine classifyEngine(ModelSpec spec) {
    return open(
        CLASSIFY_ENGINES,
        spec,
        ClassifyEngine::isClosed,
        s -> logLoad(s, () -> Resident.classifyEngine(s)));
  }

  /** The resident model of this JVM for the spec (strategy shared). */
  static Model model(ModelSpec spec) {
    return open(MODELS, spec, Model::isClosed, s -> logLoad(s, () -> Resident.sharedModel(s)));
  }

  /**
   * The open value of {@code spec} in {@code held}, made anew when there is none or it is closed.
   */
  private static <T> T open(
      Map<ModelSpec, T> held, ModelSpec spec, Predicate<T> closed, Function<ModelSpec, T> make) {
    T t = held.get(spec);
    if (t != null && !closed.test(t)) return t;
    return held.compute(spec, (s, old) -> old == null || closed.test(old) ? make.apply(s) : old);
  }

  /** A private copy for one task (strategy per-partition); the caller closes it. */
  static Model privateModel(ModelSpec spec) {
    return logLoad(spec, () -> Resident.loadPrivate(spec));
  }

  /**
   * Runs {@code open} and logs {@code loaded <model> in <s> on executor <id>} when it loaded a
   * model, as told by the engine's own load counter.
   */
  private static <T> T logLoad(ModelSpec spec, Supplier<T> open) {
    JsonNode before = Resident.stats();
    T opened = open.get();
    JsonNode after = Resident.stats();
    String what = "the registry's stats";
    long loads =
        Json.longField(after, "process_loads", what)
            - Json.longField(before, "process_loads", what);
    if (loads > 0) {
      double seconds =
          Json.doubleField(after, "process_load_seconds", what)
              - Json.doubleField(before, "process_load_seconds", what);
      LOG.info(
          "loaded {} in {} s on executor {}",
          spec.source(),
          String.format(Locale.ROOT, "%.2f", seconds),
          ExecutorResources.executorId());
    }
    return opened;
  }
}
