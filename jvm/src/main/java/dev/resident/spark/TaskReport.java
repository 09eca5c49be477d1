package dev.resident.spark;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.Resident;
import java.io.Serializable;
import org.apache.spark.TaskContext;

/**
 * What one task did, reported to the driver through an accumulator. Load counts come from the
 * native engine's process-wide counter, read at the start and the end of the task.
 */
public final class TaskReport implements Serializable {
  private static final long serialVersionUID = 1L;

  public String executorId;
  public int partition;
  public long loadsBefore;
  public long loadsAfter;
  public double loadSecondsBefore;
  public double loadSecondsAfter;
  public long rowsOk;
  public long rowsFailed;
  public long tokensIn;
  public long tokensOut;
  public double seconds;

  /** Peak resident memory of the executor process so far, at the end of the task. */
  public long peakRssBytes;

  /** Evictions of idle models in this executor so far, for its memory budget or on request. */
  public long evictions;

  /** The executor's native memory budget and the most of it in use so far. */
  public long budgetBytes;

  public long budgetPeakBytes;

  /** The CPU variant of llama.cpp that ran this task's rows (docs/determinism.md). */
  public String cpuVariant = "";

  private transient long startNanos;

  /** A report for the task now starting: the engine's load counters as they are now. */
  static TaskReport start(TaskContext ctx) {
    TaskReport r = new TaskReport();
    r.executorId = ExecutorResources.executorId();
    r.partition = ctx == null ? 0 : ctx.partitionId();
    JsonNode s = Resident.counters();
    r.loadsBefore = s.path("process_loads").asLong();
    r.loadSecondsBefore = s.path("process_load_seconds").asDouble();
    r.startNanos = System.nanoTime();
    return r;
  }

  /** Completes the report at the task's end: loads since the start, time, memory. */
  void finish() {
    JsonNode end = Resident.counters();
    loadsAfter = end.path("process_loads").asLong();
    loadSecondsAfter = end.path("process_load_seconds").asDouble();
    seconds = (System.nanoTime() - startNanos) / 1e9;
    peakRssBytes = end.path("peak_rss_bytes").asLong();
    evictions = end.path("evictions").asLong();
    budgetBytes = end.path("budget_bytes").asLong();
    budgetPeakBytes = end.path("budget_peak_bytes").asLong();
    cpuVariant = end.path("cpu_variant").asText();
  }
}
