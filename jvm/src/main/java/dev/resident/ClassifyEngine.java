package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Json;
import dev.resident.internal.NativeBridge;
import dev.resident.internal.NativeHandle;
import java.util.List;

/**
 * Classifies images from many threads through one resident model: the calling thread decodes and
 * prepares its images, the engine's thread gathers what every thread has ready into batched
 * inference calls (up to the spec's {@code parallel} images). Thread-safe.
 */
public final class ClassifyEngine implements AutoCloseable {
  private final NativeHandle handle;

  ClassifyEngine(long pointer) {
    this.handle =
        new NativeHandle(
            this,
            pointer,
            NativeBridge::shutdownClassifyEngine,
            NativeBridge::closeClassifyEngine,
            "classify engine");
  }

  /** Classifies the images and waits for all; one outcome per image, in order. */
  public List<Classification> classify(List<ImageInput> images, int topK) {
    byte[][] bytes = Classifier.bytes(images);
    int[] shapes = Classifier.shapes(images);
    return Classifier.decode(
        handle.call(p -> NativeBridge.classifyEngineRun(p, bytes, shapes, topK)), images.size());
  }

  /** Submitted, completed and failed images, inference calls and the largest batch, as JSON. */
  public JsonNode stats() {
    return Json.read(handle.call(NativeBridge::classifyEngineStats));
  }

  /** Whether it is closed (or closing): every call on it then throws FAILED_PRECONDITION. */
  public boolean isClosed() {
    return handle.isClosed();
  }

  /**
   * Fails the images still queued (CANCELLED), waits for the calls in progress to return, then
   * frees the engine. Idempotent.
   */
  @Override
  public void close() {
    handle.close();
  }
}
