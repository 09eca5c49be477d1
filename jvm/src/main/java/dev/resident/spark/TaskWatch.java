package dev.resident.spark;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.apache.spark.TaskContext;

/**
 * Notices killed tasks while their thread is busy in native code. Spark marks a task killed (a
 * cancelled job, a lost speculative race, an aborted stage) without always interrupting its thread;
 * one daemon thread per executor looks at every watched task every {@link #PERIOD_MS} ms and runs
 * its kill action once, which stops the task's rows in the engine within one decode step.
 */
final class TaskWatch {
  static final long PERIOD_MS = 50;

  private static final Map<TaskContext, Runnable> WATCHED = new ConcurrentHashMap<>();
  private static final ScheduledExecutorService TIMER =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "resident-task-watch");
            t.setDaemon(true);
            return t;
          });

  static {
    TIMER.scheduleWithFixedDelay(TaskWatch::check, PERIOD_MS, PERIOD_MS, TimeUnit.MILLISECONDS);
  }

  private TaskWatch() {}

  /** Runs {@code onKill} once if the task is killed before {@link #forget}. */
  static void watch(TaskContext task, Runnable onKill) {
    WATCHED.put(task, onKill);
  }

  static void forget(TaskContext task) {
    WATCHED.remove(task);
  }

  private static void check() {
    for (Map.Entry<TaskContext, Runnable> e : WATCHED.entrySet()) {
      if (!e.getKey().isInterrupted()) continue;
      if (WATCHED.remove(e.getKey(), e.getValue())) {
        try {
          e.getValue().run();
        } catch (RuntimeException ex) {
          // The task is going anyway; one failed cancel must not stop the watch of the others.
        }
      }
    }
  }
}
