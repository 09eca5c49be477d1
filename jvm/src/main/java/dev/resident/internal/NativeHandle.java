package dev.resident.internal;

import dev.resident.ResidentException;
import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * A native pointer freed exactly once: by {@link #close()}, or by a {@link Cleaner} when its owner
 * becomes unreachable without being closed (a safety net, not the plan). Thread-safe.
 */
public final class NativeHandle implements AutoCloseable {
  private static final Cleaner CLEANER = Cleaner.create();

  /** The cleaning action holds only the pointer, never the owner. */
  private static final class Release implements Runnable {
    private final AtomicLong pointer;
    private final LongConsumer free;

    Release(AtomicLong pointer, LongConsumer free) {
      this.pointer = pointer;
      this.free = free;
    }

    @Override
    public void run() {
      long p = pointer.getAndSet(0);
      if (p != 0) free.accept(p);
    }
  }

  private final AtomicLong pointer;
  private final Cleaner.Cleanable cleanable;
  private final String what;

  /** Takes ownership of {@code pointer}; {@code owner} is the object whose reachability counts. */
  public NativeHandle(Object owner, long pointer, LongConsumer free, String what) {
    this.pointer = new AtomicLong(pointer);
    this.cleanable = CLEANER.register(owner, new Release(this.pointer, free));
    this.what = what;
  }

  /** The live pointer; throws when closed. */
  public long get() {
    long p = pointer.get();
    if (p == 0) {
      throw new ResidentException(
          ResidentException.Code.FAILED_PRECONDITION, "the " + what + " is closed");
    }
    return p;
  }

  public boolean isClosed() {
    return pointer.get() == 0;
  }

  @Override
  public void close() {
    cleanable.clean();
  }
}
