package dev.resident;

import dev.resident.internal.Json;
import dev.resident.internal.NativeBridge;
import dev.resident.internal.NativeHandle;

/**
 * One context (KV cache) over a resident model. NOT thread-safe: one thread uses it at a time.
 * Close it when done (a Cleaner frees a forgotten one).
 */
public final class Predictor implements AutoCloseable {
  private final NativeHandle handle;

  Predictor(long pointer) {
    this.handle = new NativeHandle(this, pointer, NativeBridge::closePredictor, "predictor");
  }

  /** Generates one completion; a bad request comes back as a failed {@link Generation}. */
  public Generation generate(GenerationRequest request) {
    String invalid = request.invalidText();
    if (invalid != null) {
      return Generation.failed(
          new ResidentException(ResidentException.Code.INVALID_ARGUMENT, invalid));
    }
    byte[] out = NativeBridge.predictorGenerate(handle.get(), Json.write(request.toMap()));
    return Generation.fromJson(Json.read(out));
  }

  @Override
  public void close() {
    handle.close();
  }
}
