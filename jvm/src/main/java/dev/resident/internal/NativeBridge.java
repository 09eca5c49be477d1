package dev.resident.internal;

/**
 * The native entry points (src/jni/resident_jni.cpp). Documents cross as UTF-8 JSON; handles as
 * pointers that the public wrappers free exactly once. Every method throws {@link
 * dev.resident.ResidentException} on failure; none aborts the JVM. Use the public API in {@code
 * dev.resident} instead of calling these.
 */
public final class NativeBridge {
  static {
    NativeLoader.load();
  }

  private NativeBridge() {}

  /** Makes sure the library is loaded (a no-op after the first call). */
  public static void ensureLoaded() {}

  public static native byte[] version();

  /**
   * The CPU, the instruction sets usable here and the CPU variant of llama.cpp chosen (probing the
   * CPU and loading the variant on first call), with why each other variant was skipped.
   */
  public static native byte[] systemInfo();

  /**
   * The core's contract with every front end: {@code {"spec": defaults of a model spec, "rules":
   * defaults of a job's row rules, "classify": defaults of an image request, "strategy": the
   * default strategy, "id_field": the default id column, "retryable": {code: bool}}}.
   */
  public static native byte[] contract();

  /** A strategy's canonical name (former names read as the ones they stand for). */
  public static native byte[] strategyName(byte[] name);

  /** The process-wide resident model for the spec; loads it on first use (single-flight). */
  public static native long acquire(byte[] specJson);

  /** A private copy of the model, freed with its handle (the per-partition strategy). */
  public static native long loadPrivate(byte[] specJson);

  public static native void releaseModel(long model);

  public static native byte[] modelInfo(long model, byte[] specJson);

  /** Metadata and memory estimate of a model without loading it (a catalog name is pulled). */
  public static native byte[] inspect(byte[] specJson);

  /** The local path of a model source: a path as is, a catalog name pulled into the cache. */
  public static native byte[] resolve(byte[] source);

  /** The engine of a model source as a JSON string: its catalog entry's, "onnx" for .onnx. */
  public static native byte[] engineOf(byte[] source);

  public static native byte[] registryStats();

  /** The process's counters of {@link #registryStats} without the per-model list (cheap). */
  public static native byte[] processCounters();

  public static native void shutdown();

  /** Sets the process's native memory budget (0 = automatic); {@code source} names the setting. */
  public static native void setMemoryBudget(long bytes, byte[] source);

  /** Frees the resident model of a spec when no handle holds it; throws otherwise. */
  public static native void evict(byte[] specJson);

  /**
   * Checks a spec and a request's settings against the engine's rules without loading anything;
   * throws INVALID_ARGUMENT naming the field, its value and the valid range. A null request checks
   * the spec alone.
   */
  public static native void validate(byte[] specJson, byte[] requestJson);

  public static native long createPredictor(long model, byte[] specJson);

  /**
   * Generates one completion and waits for it; {@link #cancel} with {@code ticket} (non-zero) stops
   * it between two tokens. A ticket opened first with {@link #openTicket} stays open for the caller
   * to close; another is registered for the call alone.
   */
  public static native byte[] predictorGenerate(long predictor, byte[] requestJson, long ticket);

  public static native void closePredictor(long predictor);

  public static native long createEngine(long model, byte[] specJson);

  /**
   * Queues one request under {@code ticket} (chosen by the caller, unique in the process); its
   * outcome comes back through {@link #takeCompletions}. Waits up to {@code timeoutMs} for room in
   * the engine's queue (negative: as long as it takes); false when the queue stayed full.
   */
  public static native boolean engineSubmit(
      long engine, byte[] requestJson, long ticket, long timeoutMs);

  /**
   * Stops the request of a ticket: dropped if queued, ended before its next decode step. Does
   * nothing for a ticket that is not open.
   */
  public static native void cancel(long ticket);

  /**
   * Registers a ticket (non-zero) before the call that will run under it, so that a {@link #cancel}
   * that comes before that call starts still stops it; close it with {@link #closeTicket} once the
   * call has returned.
   */
  public static native void openTicket(long ticket);

  public static native void closeTicket(long ticket);

  /**
   * The outcomes completed since the last call, as a JSON array of {@code {"ticket", "result"}},
   * waiting up to {@code waitMs} for the first one (an empty array when none came).
   */
  public static native byte[] takeCompletions(long waitMs);

  public static native byte[] engineStats(long engine);

  /**
   * Stops an engine without freeing it: callers waiting for queue room return, and every request
   * still queued or running completes as CANCELLED. {@link #closeEngine} does it too.
   */
  public static native void shutdownEngine(long engine);

  public static native void closeEngine(long engine);

  public static native long createClassifier(long model, byte[] specJson);

  /**
   * Classifies images on the calling thread; {@code shapes} (3 ints per image: width, height,
   * channels) marks decoded pixels, null when every image is a file. A JSON array, one outcome per
   * image.
   */
  public static native byte[] classify(long classifier, byte[][] images, int[] shapes, int topK);

  public static native void closeClassifier(long classifier);

  public static native long createClassifyEngine(long model, byte[] specJson);

  /** As {@link #classify}, through the batching engine shared by every thread. */
  public static native byte[] classifyEngineRun(
      long engine, byte[][] images, int[] shapes, int topK);

  public static native byte[] classifyEngineStats(long engine);

  /** As {@link #shutdownEngine}, for a classify engine: waiting images fail as CANCELLED. */
  public static native void shutdownClassifyEngine(long engine);

  public static native void closeClassifyEngine(long engine);
}
