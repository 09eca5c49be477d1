package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Json;
import dev.resident.internal.NativeBridge;
import dev.resident.internal.NativeHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * Continuous batching over one resident model: every thread that submits to it feeds the same
 * engine, which decodes all sequences in flight together in one llama.cpp batch. Thread-safe.
 * Closing it cancels what is still queued or running.
 *
 * <p>{@link #submit} is the asynchronous call: it returns as soon as the request is queued, with a
 * future that completes with the {@link Generation} (or its error, as a failed Generation).
 * Cancelling the future stops the request: dropped if queued, ended before the next decode step if
 * running. {@link #generate} is the blocking convenience over it.
 */
public final class BatchEngine implements AutoCloseable {
  /** How long one native wait for queue room lasts before the caller checks for interruption. */
  private static final long QUEUE_WAIT_SLICE_MS = 100;

  private final NativeHandle handle;

  BatchEngine(long pointer) {
    this.handle =
        new NativeHandle(
            this, pointer, NativeBridge::shutdownEngine, NativeBridge::closeEngine, "batch engine");
  }

  /**
   * Queues a request, waiting while the engine's queue is full (backpressure). The future completes
   * on Resident's completion thread; a bad request completes at once with its error. If the caller
   * is interrupted while it waits for room, the future holds a CANCELLED error and the thread keeps
   * its interrupt status.
   */
  public CompletableFuture<Generation> submit(GenerationRequest request) {
    CompletableFuture<Generation> refused = refusal(request);
    if (refused != null) return refused;
    byte[] json = Json.write(request.toMap());
    while (true) {
      Optional<CompletableFuture<Generation>> f = offer(json, QUEUE_WAIT_SLICE_MS);
      if (f.isPresent()) return f.get();
      if (Thread.currentThread().isInterrupted()) {
        return CompletableFuture.completedFuture(
            Generation.failed(
                new ResidentException(
                    ResidentException.Code.CANCELLED,
                    "interrupted while waiting for room in the batch engine's queue")));
      }
    }
  }

  /**
   * As {@link #submit}, but waits at most {@code timeout} for room in the queue: empty when the
   * queue stayed full (the caller keeps the request).
   */
  public Optional<CompletableFuture<Generation>> trySubmit(
      GenerationRequest request, Duration timeout) {
    CompletableFuture<Generation> refused = refusal(request);
    if (refused != null) return Optional.of(refused);
    return offer(Json.write(request.toMap()), Math.max(0, timeout.toMillis()));
  }

  /** A completed future for a request whose text cannot cross to native code, else null. */
  private static CompletableFuture<Generation> refusal(GenerationRequest request) {
    String invalid = request.invalidText();
    if (invalid == null) return null;
    return CompletableFuture.completedFuture(
        Generation.failed(new ResidentException(ResidentException.Code.INVALID_ARGUMENT, invalid)));
  }

  private Optional<CompletableFuture<Generation>> offer(byte[] json, long timeoutMs) {
    Submissions.Submission s = Submissions.open();
    boolean queued;
    try {
      queued = handle.call(p -> NativeBridge.engineSubmit(p, json, s.ticket, timeoutMs));
    } catch (RuntimeException e) {
      Submissions.forget(s);
      throw e;
    }
    if (!queued) {
      Submissions.forget(s);
      return Optional.empty();
    }
    return Optional.of(s);
  }

  /**
   * Submits all requests and waits for all. Results come back in the order of the requests; a bad
   * request fails alone. If the caller is interrupted, the requests not yet done are cancelled and
   * come back as CANCELLED errors.
   */
  public List<Generation> generate(List<GenerationRequest> requests) {
    List<CompletableFuture<Generation>> futures = new ArrayList<>(requests.size());
    for (GenerationRequest r : requests) futures.add(submit(r));
    List<Generation> out = new ArrayList<>(futures.size());
    for (CompletableFuture<Generation> f : futures) out.add(await(f));
    return out;
  }

  public Generation generate(GenerationRequest request) {
    return await(submit(request));
  }

  /**
   * The outcome of a submitted request, waiting for it. An interrupt cancels the request (the
   * thread keeps its interrupt status); a cancelled future gives a CANCELLED error.
   */
  public static Generation await(CompletableFuture<Generation> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      f.cancel(true);
      Thread.currentThread().interrupt();
      return cancelledGeneration("interrupted while waiting for the result");
    } catch (CancellationException e) {
      return cancelledGeneration("the request was cancelled");
    } catch (ExecutionException e) {
      throw new ResidentException(
          ResidentException.Code.INTERNAL, "a submitted request failed: " + e.getCause());
    }
  }

  private static Generation cancelledGeneration(String why) {
    return Generation.failed(new ResidentException(ResidentException.Code.CANCELLED, why));
  }

  /**
   * Submitted, completed, failed, cancelled and expired requests, decode calls, tokens, most
   * sequences together.
   */
  public JsonNode stats() {
    return Json.read(handle.call(NativeBridge::engineStats));
  }

  /** Whether it is closed (or closing): every call on it then throws FAILED_PRECONDITION. */
  public boolean isClosed() {
    return handle.isClosed();
  }

  /**
   * Cancels every request still queued or running (each completes as CANCELLED), waits for the
   * calls in progress on other threads to return, then frees the engine. Idempotent; calls after it
   * throw FAILED_PRECONDITION.
   */
  @Override
  public void close() {
    handle.close();
  }
}
