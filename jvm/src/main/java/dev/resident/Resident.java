package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Json;
import dev.resident.internal.NativeBridge;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * The process-wide entry point: resident models (loaded once per JVM, single-flight, counted by the
 * native registry) and one batch engine (or classify engine) per model and options. All methods are
 * thread-safe. A JVM shutdown hook closes every engine and frees every model: engines still in use
 * cancel their requests, and calls on them after that throw FAILED_PRECONDITION.
 */
public final class Resident {
  private static final Map<ModelSpec, Served<BatchEngine>> ENGINES = new ConcurrentHashMap<>();
  private static final Map<ModelSpec, Served<ClassifyEngine>> CLASSIFY_ENGINES =
      new ConcurrentHashMap<>();
  private static final Map<ModelSpec, Model> SHARED = new ConcurrentHashMap<>();
  private static final Object BUDGET_LOCK = new Object();
  private static String budgetSet = "0|"; // guarded by BUDGET_LOCK: bytes|source last set
  private static volatile boolean hookInstalled;

  /** A model and the engine serving it, kept together until shutdown or evict. */
  private record Served<E>(Model model, E engine, Consumer<E> closeEngine) {
    /** Closes the engine (cancelling what it still runs), then drops the model's handle. */
    void close() {
      try {
        closeEngine.accept(engine);
      } finally {
        model.close();
      }
    }
  }

  private Resident() {}

  private static void init() {
    NativeBridge.ensureLoaded();
    if (hookInstalled) return;
    synchronized (Resident.class) {
      if (hookInstalled) return;
      Runtime.getRuntime().addShutdownHook(new Thread(Resident::shutdown, "resident-shutdown"));
      hookInstalled = true;
    }
  }

  /**
   * Checks a spec and a request's settings (sampling, timeout) by the engine's own rules, without
   * loading anything: call it before any work. Throws INVALID_ARGUMENT naming the field, its value
   * and the valid range.
   */
  public static void validate(ModelSpec spec, GenerationRequest request) {
    NativeBridge.validate(Json.write(spec.toMap()), Json.write(request.toMap()));
  }

  /**
   * Checks a spec alone by the engine's rules (as {@link #validate(ModelSpec, GenerationRequest)}).
   */
  public static void validate(ModelSpec spec) {
    NativeBridge.validate(Json.write(spec.toMap()), null);
  }

  /**
   * A handle to the resident model for {@code spec}, loading it on first use; concurrent first
   * calls do one load. Close the handle when done; the model stays resident.
   *
   * @throws ResidentException NOT_FOUND (no such file or catalog name), DATA_LOSS (corrupt file),
   *     RESOURCE_EXHAUSTED (not enough memory), INVALID_ARGUMENT (bad spec), UNAVAILABLE (the model
   *     could not be fetched)
   */
  public static Model model(ModelSpec spec) {
    init();
    return new Model(spec, NativeBridge.acquire(Json.write(spec.toMap())));
  }

  /** A private copy of the model, freed when closed: the per-partition strategy. */
  public static Model loadPrivate(ModelSpec spec) {
    init();
    return new Model(spec, NativeBridge.loadPrivate(Json.write(spec.toMap())));
  }

  /**
   * The batch engine of this JVM for {@code spec} (model and context options), created on first
   * use. Every thread that asks for the same spec gets the same engine, so all of them share its
   * decode calls. Do not close it: {@link #shutdown()} does (one closed anyway is replaced).
   */
  public static BatchEngine engine(ModelSpec spec) {
    init();
    return served(
        ENGINES, spec, BatchEngine::isClosed, m -> m.newBatchEngine(spec), BatchEngine::close);
  }

  /**
   * The classify engine of this JVM for an image model's {@code spec}, created on first use and
   * shared by every thread that asks for the same spec. Do not close it: {@link #shutdown()} and
   * {@link #evict} do.
   */
  public static ClassifyEngine classifyEngine(ModelSpec spec) {
    init();
    return served(
        CLASSIFY_ENGINES,
        spec,
        ClassifyEngine::isClosed,
        m -> m.newClassifyEngine(spec),
        ClassifyEngine::close);
  }

  /** The open engine of {@code spec} in {@code held}, made when there is none or it was closed. */
  private static <E> E served(
      Map<ModelSpec, Served<E>> held,
      ModelSpec spec,
      Predicate<E> closed,
      Function<Model, E> open,
      Consumer<E> closeEngine) {
    Served<E> s = held.get(spec);
    if (s != null && !closed.test(s.engine())) return s.engine();
    AtomicReference<Served<E>> replaced = new AtomicReference<>();
    Served<E> now =
        held.compute(
            spec,
            (k, old) -> {
              if (old != null && !closed.test(old.engine())) return old;
              replaced.set(old);
              Model m = model(k);
              try {
                return new Served<>(m, open.apply(m), closeEngine);
              } catch (RuntimeException e) {
                m.close();
                throw e;
              }
            });
    if (replaced.get() != null) replaced.get().close(); // its engine is closed: drop its model
    return now.engine();
  }

  /**
   * A handle to the resident model for {@code spec} that this JVM keeps open until {@link
   * #shutdown()}: for callers that create predictors from many threads. Do not close it.
   */
  public static Model sharedModel(ModelSpec spec) {
    init();
    Model m = SHARED.get(spec);
    if (m != null && !m.isClosed()) return m;
    return SHARED.compute(spec, (s, old) -> old != null && !old.isClosed() ? old : model(s));
  }

  /**
   * Loads, load seconds and, per model, loads, bytes, handles and last use, from the native
   * registry of this process.
   */
  public static JsonNode stats() {
    init();
    return Json.read(NativeBridge.registryStats());
  }

  /**
   * The process-wide counters of {@link #stats()} (loads, load seconds, evictions, memory budget,
   * peak RSS, CPU variant) without the per-model list: cheap enough to read at every task's start
   * and end.
   */
  public static JsonNode counters() {
    init();
    return Json.read(NativeBridge.processCounters());
  }

  /**
   * Sets the native memory this JVM may use for its models and their contexts; {@code source} names
   * the setting in errors (e.g. "spark.executor.memoryOverhead"). A load or context that would go
   * over it first evicts idle models (least recently used first), then fails with
   * FAILED_PRECONDITION when it could never fit, or RESOURCE_EXHAUSTED when others hold the memory.
   * 0 goes back to the default: RESIDENT_MEMORY_BUDGET, else the container's limit, else the
   * machine's memory. The budget in use is in {@link #stats()} ({@code budget_bytes}). Setting what
   * is already set does nothing (a Spark job sets its budget at every task).
   */
  public static void setMemoryBudget(long bytes, String source) {
    init();
    String key = bytes + "|" + (bytes == 0 ? "" : source);
    synchronized (BUDGET_LOCK) {
      if (key.equals(budgetSet)) return;
      NativeBridge.setMemoryBudget(bytes, source.getBytes(StandardCharsets.UTF_8));
      budgetSet = key;
    }
  }

  /**
   * Frees this JVM's resident model of {@code spec}: closes the engines and shared handle this
   * class keeps for it (requests they still run end as CANCELLED; later calls on them throw
   * FAILED_PRECONDITION), then drops the model. The next use loads it again.
   *
   * @throws ResidentException FAILED_PRECONDITION while other handles still use it, NOT_FOUND when
   *     it is not loaded
   */
  public static synchronized void evict(ModelSpec spec) {
    init();
    Served<BatchEngine> served = ENGINES.remove(spec);
    if (served != null) served.close();
    Served<ClassifyEngine> images = CLASSIFY_ENGINES.remove(spec);
    if (images != null) images.close();
    Model shared = SHARED.remove(spec);
    if (shared != null) shared.close();
    NativeBridge.evict(Json.write(spec.toMap()));
  }

  /** Model loads in this process so far (the engine's own counter). */
  public static long loads() {
    return Json.longField(stats(), "loads", "the registry's stats");
  }

  /** Metadata and the memory estimate of a model without loading it. */
  public static JsonNode inspect(ModelSpec spec) {
    init();
    return Json.read(NativeBridge.inspect(Json.write(spec.toMap())));
  }

  /**
   * The local file of a model source: a path as is, a catalog name pulled (once) into the cache.
   */
  public static String resolve(String source) {
    init();
    return Json.text(
        Json.read(NativeBridge.resolve(source.getBytes(StandardCharsets.UTF_8))), "a model path");
  }

  /**
   * The engine that serves a model source: {@code llama} (language models) or {@code onnx} (image
   * classifiers), from its catalog entry, else its file's extension.
   */
  public static String engineOf(String source) {
    init();
    return Json.text(
        Json.read(NativeBridge.engineOf(source.getBytes(StandardCharsets.UTF_8))),
        "an engine name");
  }

  /**
   * What this JVM's native code runs on: the CPU, the instruction sets the OS lets it use, and the
   * CPU variant of llama.cpp chosen for it ({@code cpu_variant}), with each other variant and why
   * it was skipped ({@code variants}). The same JSON as {@code resident inspect --system --json}.
   * Pin a variant with the environment variable {@code RESIDENT_CPU_VARIANT} (on Spark: {@code
   * spark.executorEnv.RESIDENT_CPU_VARIANT}), forbid some with {@code RESIDENT_CPU_VARIANT_DENY}.
   *
   * @throws ResidentException FAILED_PRECONDITION when no variant (or not the pinned one) can run
   *     here, INVALID_ARGUMENT for an unknown variant name
   */
  public static JsonNode systemInfo() {
    init();
    return Json.read(NativeBridge.systemInfo());
  }

  /** Resident's version and the pinned llama.cpp's. */
  public static JsonNode version() {
    init();
    return Json.read(NativeBridge.version());
  }

  /**
   * Closes every engine (batch and classify: requests they still run end as CANCELLED) and frees
   * every model no handle still holds. Idempotent; a later call for an engine makes a new one.
   */
  public static synchronized void shutdown() {
    // Removed one by one: an engine made meanwhile is either closed here or kept, never lost.
    List<Served<?>> served = new ArrayList<>();
    for (ModelSpec s : ENGINES.keySet()) served.add(ENGINES.remove(s));
    for (ModelSpec s : CLASSIFY_ENGINES.keySet()) served.add(CLASSIFY_ENGINES.remove(s));
    List<Runnable> closes = new ArrayList<>();
    for (Served<?> s : served) if (s != null) closes.add(s::close);
    for (ModelSpec s : SHARED.keySet()) {
      Model m = SHARED.remove(s);
      if (m != null) closes.add(m::close);
    }
    closes.add(NativeBridge::shutdown);
    RuntimeException first = null;
    for (Runnable c : closes) { // one failure must not keep the others open
      try {
        c.run();
      } catch (RuntimeException e) {
        if (first == null) first = e;
      }
    }
    if (first != null) throw first;
  }
}
