package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Json;
import dev.resident.internal.NativeBridge;
import dev.resident.internal.NativeHandle;
import java.util.ArrayList;
import java.util.List;

/**
 * Continuous batching over one resident model: every thread that calls {@link #generate(List)}
 * feeds the same engine, which decodes all sequences in flight together in one llama.cpp batch.
 * Thread-safe. Closing it cancels what is still queued.
 */
public final class BatchEngine implements AutoCloseable {
  private final NativeHandle handle;

  BatchEngine(long pointer) {
    this.handle = new NativeHandle(this, pointer, NativeBridge::closeEngine, "batch engine");
  }

  /**
   * Submits all requests (waiting while the engine's queue is full) and waits for all. Results come
   * back in the order of the requests; a bad request fails alone.
   */
  public List<Generation> generate(List<GenerationRequest> requests) {
    // Rows whose text cannot cross as UTF-8 fail here, alone.
    Generation[] results = new Generation[requests.size()];
    List<Object> maps = new ArrayList<>(requests.size());
    for (int i = 0; i < results.length; i++) {
      String invalid = requests.get(i).invalidText();
      if (invalid != null) {
        results[i] =
            Generation.failed(
                new ResidentException(ResidentException.Code.INVALID_ARGUMENT, invalid));
      } else {
        maps.add(requests.get(i).toMap());
      }
    }
    if (!maps.isEmpty()) {
      JsonNode out = Json.read(NativeBridge.engineGenerate(handle.get(), Json.write(maps)));
      int next = 0;
      for (int i = 0; i < results.length; i++) {
        if (results[i] == null) results[i] = Generation.fromJson(out.get(next++));
      }
    }
    return List.of(results);
  }

  public Generation generate(GenerationRequest request) {
    return generate(List.of(request)).get(0);
  }

  /** Submitted, completed and failed requests, decode calls, tokens, most sequences together. */
  public JsonNode stats() {
    return Json.read(NativeBridge.engineStats(handle.get()));
  }

  @Override
  public void close() {
    handle.close();
  }
}
