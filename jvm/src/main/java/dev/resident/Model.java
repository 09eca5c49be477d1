package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Json;
import dev.resident.internal.NativeBridge;
import dev.resident.internal.NativeHandle;

/**
 * A counted handle to a model resident in this process (or, from {@link
 * Resident#loadPrivate(ModelSpec)}, a private copy). Closing the handle drops one reference; the
 * shared model stays resident until {@link Resident#shutdown()}. Thread-safe.
 */
public final class Model implements AutoCloseable {
  private final ModelSpec spec;
  private final NativeHandle handle;

  Model(ModelSpec spec, long pointer) {
    this.spec = spec;
    this.handle = new NativeHandle(this, pointer, NativeBridge::releaseModel, "model");
  }

  public ModelSpec spec() {
    return spec;
  }

  /**
   * Metadata (architecture, parameters, quantization, context length), the memory estimate for this
   * spec's options, load seconds and loaded bytes, as JSON.
   */
  public JsonNode info() {
    byte[] json = Json.write(spec.toMap());
    return Json.read(handle.call(p -> NativeBridge.modelInfo(p, json)));
  }

  /** A new predictor (own context) for one thread at a time; close it when done. */
  public Predictor newPredictor() {
    return newPredictor(spec);
  }

  /** As {@link #newPredictor()}, with other context options (threads, ctx size). */
  public Predictor newPredictor(ModelSpec options) {
    byte[] json = Json.write(options.toMap());
    return new Predictor(handle.call(p -> NativeBridge.createPredictor(p, json)));
  }

  /** A new batch engine with its own decode thread; most callers want {@link Resident#engine}. */
  public BatchEngine newBatchEngine(ModelSpec options) {
    byte[] json = Json.write(options.toMap());
    return new BatchEngine(handle.call(p -> NativeBridge.createEngine(p, json)));
  }

  /** A classifier of this image model for one thread at a time; close it when done. */
  public Classifier newClassifier(ModelSpec options) {
    byte[] json = Json.write(options.toMap());
    return new Classifier(handle.call(p -> NativeBridge.createClassifier(p, json)));
  }

  /** A batching classify engine with its own thread, for images from many threads. */
  public ClassifyEngine newClassifyEngine(ModelSpec options) {
    byte[] json = Json.write(options.toMap());
    return new ClassifyEngine(handle.call(p -> NativeBridge.createClassifyEngine(p, json)));
  }

  /** Whether this handle is closed (or closing). */
  public boolean isClosed() {
    return handle.isClosed();
  }

  /** Drops this reference once the calls in progress on it have returned. Idempotent. */
  @Override
  public void close() {
    handle.close();
  }
}
