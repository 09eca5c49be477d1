package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Json;
import dev.resident.internal.NativeBridge;
import dev.resident.internal.NativeHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * One thread's handle on a resident image classifier: classifies on the calling thread, in batches
 * of the spec's {@code parallel} images. NOT thread-safe. Close it when done (a Cleaner frees a
 * forgotten one).
 */
public final class Classifier implements AutoCloseable {
  private final NativeHandle handle;

  Classifier(long pointer) {
    this.handle = new NativeHandle(this, pointer, NativeBridge::closeClassifier, "classifier");
  }

  /** One outcome per image, in order; a bad image gets a failed {@link Classification}. */
  public List<Classification> classify(List<ImageInput> images, int topK) {
    byte[][] bytes = bytes(images);
    int[] shapes = shapes(images);
    return decode(handle.call(p -> NativeBridge.classify(p, bytes, shapes, topK)), images.size());
  }

  static byte[][] bytes(List<ImageInput> images) {
    byte[][] out = new byte[images.size()][];
    for (int i = 0; i < out.length; i++) out[i] = images.get(i).bytes;
    return out;
  }

  /** Width, height and channels per image; null when every image is a file. */
  static int[] shapes(List<ImageInput> images) {
    boolean any = false;
    for (ImageInput in : images) any |= in.isPixels();
    if (!any) return null;
    int[] out = new int[3 * images.size()];
    for (int i = 0; i < images.size(); i++) {
      ImageInput in = images.get(i);
      out[3 * i] = in.width;
      out[3 * i + 1] = in.height;
      out[3 * i + 2] = in.channels;
    }
    return out;
  }

  static List<Classification> decode(byte[] json, int expected) {
    JsonNode results = Json.read(json);
    if (!results.isArray()) {
      throw new ResidentException(
          ResidentException.Code.INTERNAL, "native code returned classifications as " + results);
    }
    List<Classification> out = new ArrayList<>(expected);
    for (JsonNode r : results) out.add(Classification.fromJson(r));
    if (out.size() != expected) {
      throw new ResidentException(
          ResidentException.Code.INTERNAL,
          "the engine returned " + out.size() + " outcomes for " + expected + " images");
    }
    return out;
  }

  /** Waits for a classification in progress on another thread, then frees it. Idempotent. */
  @Override
  public void close() {
    handle.close();
  }
}
