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
    return Json.read(NativeBridge.modelInfo(handle.get(), Json.write(spec.toMap())));
  }

  /** A new predictor (own context) for one thread at a time; close it when done. */
  public Predictor newPredictor() {
    return newPredictor(spec);
  }

  /** As {@link #newPredictor()}, with other context options (threads, ctx size). */
  public Predictor newPredictor(ModelSpec options) {
    return new Predictor(NativeBridge.createPredictor(handle.get(), Json.write(options.toMap())));
  }

  /** A new batch engine with its own decode thread; most callers want {@link Resident#engine}. */
  public BatchEngine newBatchEngine(ModelSpec options) {
    return new BatchEngine(NativeBridge.createEngine(handle.get(), Json.write(options.toMap())));
  }

  /** A classifier of this image model for one thread at a time; close it when done. */
  public Classifier newClassifier(ModelSpec options) {
    return new Classifier(NativeBridge.createClassifier(handle.get(), Json.write(options.toMap())));
  }

  /** A batching classify engine with its own thread, for images from many threads. */
  public ClassifyEngine newClassifyEngine(ModelSpec options) {
    return new ClassifyEngine(
        NativeBridge.createClassifyEngine(handle.get(), Json.write(options.toMap())));
  }

  @Override
  public void close() {
    handle.close();
  }
}
