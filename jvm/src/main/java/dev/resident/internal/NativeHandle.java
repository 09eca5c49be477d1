package dev.resident.internal;

import dev.resident.ResidentException;
import java.lang.ref.Cleaner;
import java.lang.ref.Reference;
import java.util.function.LongConsumer;
import java.util.function.LongFunction;

/**
 * A native pointer that is only used pinned and freed exactly once: by {@link #close()}, or by a
 * {@link Cleaner} when its owner becomes unreachable without being closed (a safety net, not the
 * plan). Thread-safe.
 *
 * <p>Every native call that takes the pointer runs inside {@link #call} or {@link #run}, which
 * count it in: a close refuses new calls at once (they throw FAILED_PRECONDITION "the ... is
 * closed"), runs the handle's {@code interrupt} when calls are inside (an engine's shutdown, which
 * makes them return soon), waits for them to leave, and only then frees the pointer. So no call
 * ever touches freed memory, whichever thread closes the handle and when. A call must not close its
 * own handle (it would wait for itself).
 */
public final class NativeHandle implements AutoCloseable {
  private static final Cleaner CLEANER = Cleaner.create();

  /** The pointer and the calls inside it; also the cleaning action, which holds no owner. */
  private static final class State implements Runnable {
    private final LongConsumer interrupt;
    private final LongConsumer free;
    private final String what;
    private long pointer; // guarded by this; 0 once freed
    private int calls; // guarded by this: calls holding the pointer now
    private boolean closing; // guarded by this: no call may start
    private boolean freed; // guarded by this

    State(long pointer, LongConsumer interrupt, LongConsumer free, String what) {
      this.pointer = pointer;
      this.interrupt = interrupt;
      this.free = free;
      this.what = what;
    }

    synchronized long enter() {
      if (closing || pointer == 0) {
        throw new ResidentException(
            ResidentException.Code.FAILED_PRECONDITION, "the " + what + " is closed");
      }
      calls++;
      return pointer;
    }

    synchronized void leave() {
      if (--calls == 0) notifyAll();
    }

    synchronized boolean isClosing() {
      return closing;
    }

    /** Closes: runs at most once (the Cleanable's contract), on the closing or cleaner thread. */
    @Override
    public void run() {
      long p;
      boolean busy;
      synchronized (this) {
        closing = true;
        p = pointer;
        busy = calls > 0;
      }
      if (busy && interrupt != null && p != 0) {
        try {
          interrupt.accept(p);
        } catch (RuntimeException e) {
          // The calls inside still leave on their own; the wait below is for them.
        }
      }
      boolean interrupted = false;
      synchronized (this) {
        while (calls > 0) {
          try {
            wait();
          } catch (InterruptedException e) {
            interrupted = true; // freeing under a running call is never an option
          }
        }
        pointer = 0;
      }
      try {
        if (p != 0) free.accept(p);
      } finally {
        synchronized (this) {
          freed = true;
          notifyAll();
        }
        if (interrupted) Thread.currentThread().interrupt();
      }
    }

    /** Waits until another thread's close has freed the pointer. */
    synchronized void awaitFreed() {
      boolean interrupted = false;
      while (!freed) {
        try {
          wait();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
      if (interrupted) Thread.currentThread().interrupt();
    }
  }

  private final Object owner;
  private final State state;
  private final Cleaner.Cleanable cleanable;

  /**
   * Takes ownership of {@code pointer}; {@code owner} is the object whose reachability counts.
   * {@code interrupt} (may be null, must not hold the owner) is run on a close that finds calls
   * inside, with the pointer still valid: it makes those calls return soon.
   */
  public NativeHandle(
      Object owner, long pointer, LongConsumer interrupt, LongConsumer free, String what) {
    this.owner = owner;
    this.state = new State(pointer, interrupt, free, what);
    this.cleanable = CLEANER.register(owner, state);
  }

  /** As the full constructor, without an interrupt: a close waits for the calls inside. */
  public NativeHandle(Object owner, long pointer, LongConsumer free, String what) {
    this(owner, pointer, null, free, what);
  }

  /**
   * Runs {@code body} with the pointer pinned: the pointer stays valid until {@code body} returns.
   *
   * @throws ResidentException FAILED_PRECONDITION when the handle is closed (or closing)
   */
  public <T> T call(LongFunction<T> body) {
    long p = state.enter();
    try {
      return body.apply(p);
    } finally {
      state.leave();
      Reference.reachabilityFence(owner); // the Cleaner must not close it under this call
    }
  }

  /** As {@link #call}, for a body without a result. */
  public void run(LongConsumer body) {
    long p = state.enter();
    try {
      body.accept(p);
    } finally {
      state.leave();
      Reference.reachabilityFence(owner);
    }
  }

  /** Whether a close has begun (calls are refused from then on). */
  public boolean isClosed() {
    return state.isClosing();
  }

  /**
   * Refuses new calls, interrupts and waits for the calls inside, then frees the pointer.
   * Idempotent; a close racing another returns once the pointer is freed.
   */
  @Override
  public void close() {
    cleanable.clean();
    state.awaitFreed();
  }
}
