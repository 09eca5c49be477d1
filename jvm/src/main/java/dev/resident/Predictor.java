package dev.resident;

import dev.resident.internal.Json;
import dev.resident.internal.NativeBridge;
import dev.resident.internal.NativeHandle;

/**
 * One context (KV cache) over a resident model. NOT thread-safe: one thread uses it at a time;
 * {@link #cancel}, {@link #stop} and {@link #close} may come from any thread. Close it when done (a
 * Cleaner frees a forgotten one).
 */
public final class Predictor implements AutoCloseable {
  /**
   * The generation in progress, which other threads cancel. Its ticket is registered with the
   * native side before it is published here, so a cancel that sees it always reaches the native
   * call, whether that call has started yet or not. Held by the close action: it must not hold the
   * Predictor.
   */
  private static final class Running {
    private long ticket; // guarded by this; 0 when idle
    private boolean stopped; // guarded by this: every generation from now on is cancelled

    /** Publishes a ticket the native side already knows; cancels it at once when stopped. */
    synchronized void begin(long t) {
      ticket = t;
      if (stopped) NativeBridge.cancel(t);
    }

    synchronized void end() {
      ticket = 0;
    }

    synchronized void cancel() {
      if (ticket != 0) NativeBridge.cancel(ticket);
    }

    synchronized void stop() {
      stopped = true;
      cancel();
    }
  }

  /**
   * Tests only: runs after a generation's ticket is published and before its native call starts
   * (the window in which a cancel once went missing).
   */
  static volatile Runnable afterPublish;

  private final Running running = new Running();
  private final NativeHandle handle;

  Predictor(long pointer) {
    Running r = running;
    this.handle =
        new NativeHandle(this, pointer, p -> r.stop(), NativeBridge::closePredictor, "predictor");
  }

  /**
   * Generates one completion; a bad request comes back as a failed {@link Generation}, a cancelled
   * one as a CANCELLED error.
   *
   * @throws ResidentException FAILED_PRECONDITION when the predictor is closed
   */
  public Generation generate(GenerationRequest request) {
    String invalid = request.invalidText();
    if (invalid != null) {
      return Generation.failed(
          new ResidentException(ResidentException.Code.INVALID_ARGUMENT, invalid));
    }
    byte[] json = Json.write(request.toMap());
    return handle.call(
        p -> {
          long ticket = Submissions.nextTicket();
          NativeBridge.openTicket(ticket); // before anyone can see it: no cancel comes first
          try {
            running.begin(ticket);
            try {
              Runnable hook = afterPublish;
              if (hook != null) hook.run();
              return Generation.fromJson(
                  Json.read(NativeBridge.predictorGenerate(p, json, ticket)));
            } finally {
              running.end();
            }
          } finally {
            NativeBridge.closeTicket(ticket);
          }
        });
  }

  /**
   * Stops the generation in progress, from any thread: it ends before its next token (or before its
   * first, if it has not started decoding) with a CANCELLED error. Does nothing when the predictor
   * is idle.
   */
  public void cancel() {
    running.cancel();
  }

  /**
   * As {@link #cancel}, and every later generation on this predictor is cancelled too, before it
   * decodes anything: for an owner giving up on it from another thread (e.g. a killed task) without
   * waiting as {@link #close} does.
   */
  public void stop() {
    running.stop();
  }

  /** Whether it is closed (or closing). */
  public boolean isClosed() {
    return handle.isClosed();
  }

  /**
   * Cancels the generation in progress on another thread, waits for it to return, then frees the
   * context. Idempotent; a later {@link #generate} throws FAILED_PRECONDITION.
   */
  @Override
  public void close() {
    handle.close();
  }
}
