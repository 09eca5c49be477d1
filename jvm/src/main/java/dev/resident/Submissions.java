package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Json;
import dev.resident.internal.NativeBridge;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Requests in flight without a waiting thread: each has a ticket, the native side completes tickets
 * on its engine threads, and one daemon thread ("resident-completions") takes the outcomes and
 * completes their futures. Dependent stages added without an executor run on that thread: keep them
 * short or use the {@code *Async} variants.
 */
final class Submissions {
  private static final AtomicLong NEXT = new AtomicLong();
  private static final Map<Long, Submission> OPEN = new ConcurrentHashMap<>();
  private static final System.Logger LOG = System.getLogger(Submissions.class.getName());
  private static volatile Thread completer;

  private Submissions() {}

  /** A future whose {@link #cancel} stops the native request as well. */
  static final class Submission extends CompletableFuture<Generation> {
    final long ticket;

    Submission(long ticket) {
      this.ticket = ticket;
    }

    @Override
    public boolean cancel(boolean mayInterruptIfRunning) {
      boolean cancelled = super.cancel(mayInterruptIfRunning);
      NativeBridge.cancel(ticket);
      return cancelled;
    }
  }

  /** A ticket for a synchronous call that another thread may cancel. */
  static long nextTicket() {
    return NEXT.incrementAndGet();
  }

  /** Registers a new ticket's future, before the native side may complete it. */
  static Submission open() {
    startCompleter();
    Submission s = new Submission(nextTicket());
    OPEN.put(s.ticket, s);
    return s;
  }

  /** Drops a ticket the native side did not take. */
  static void forget(Submission s) {
    OPEN.remove(s.ticket);
  }

  private static void startCompleter() {
    if (completer != null) return;
    synchronized (Submissions.class) {
      if (completer != null) return;
      Thread t = new Thread(Submissions::completeForever, "resident-completions");
      t.setDaemon(true);
      t.start();
      completer = t;
    }
  }

  /** A completion's generation; one that cannot be read fails its request with the reason. */
  static Generation outcome(JsonNode completion) {
    try {
      return Generation.fromJson(Json.field(completion, "result", "a completion"));
    } catch (ResidentException e) {
      return Generation.failed(e);
    }
  }

  private static void completeForever() {
    while (true) {
      try {
        JsonNode done = Json.read(NativeBridge.takeCompletions(1000));
        if (!done.isArray()) {
          throw new ResidentException(
              ResidentException.Code.INTERNAL, "native code returned completions as " + done);
        }
        for (JsonNode d : done) {
          Submission s = OPEN.remove(Json.longField(d, "ticket", "a completion"));
          if (s != null) s.complete(outcome(d));
        }
      } catch (Throwable t) {
        // A failing dependent stage must not stop the completion of every other request.
        LOG.log(System.Logger.Level.WARNING, "resident-completions: " + t, t);
      }
    }
  }
}
