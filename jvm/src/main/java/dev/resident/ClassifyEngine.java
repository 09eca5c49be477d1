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
        new NativeHandle(this, pointer, NativeBridge::closeClassifyEngine, "classify engine");
  }

  /** Classifies the images and waits for all; one outcome per image, in order. */
  public List<Classification> classify(List<ImageInput> images, int topK) {
    return Classifier.decode(
        NativeBridge.classifyEngineRun(
            handle.get(), Classifier.bytes(images), Classifier.shapes(images), topK),
        images.size());
  }

  /** Submitted, completed and failed images, inference calls and the largest batch, as JSON. */
  public JsonNode stats() {
    return Json.read(NativeBridge.classifyEngineStats(handle.get()));
  }

  @Override
  public void close() {
    handle.close();
  }
}
