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
  private volatile long running; // the ticket of the generation in progress, 0 when idle

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
    long ticket = Submissions.nextTicket();
    running = ticket;
    try {
      byte[] out =
          NativeBridge.predictorGenerate(handle.get(), Json.write(request.toMap()), ticket);
      return Generation.fromJson(Json.read(out));
    } finally {
      running = 0;
    }
  }

  /**
   * Stops the generation in progress, from any thread: it ends before its next token with a
   * CANCELLED error. Does nothing when the predictor is idle.
   */
  public void cancel() {
    long ticket = running;
    if (ticket != 0) NativeBridge.cancel(ticket);
  }

  @Override
  public void close() {
    handle.close();
  }
}
