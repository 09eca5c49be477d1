package dev.resident.spark;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.Resident;
import dev.resident.internal.Json;
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

  private static final String COUNTERS = "the process's counters";

  private transient long startNanos;

  /** A report for the task now starting: the engine's load counters as they are now. */
  static TaskReport start(TaskContext ctx) {
    TaskReport r = new TaskReport();
    r.executorId = ExecutorResources.executorId();
    r.partition = ctx == null ? 0 : ctx.partitionId();
    JsonNode s = Resident.counters();
    r.loadsBefore = Json.longField(s, "process_loads", COUNTERS);
    r.loadSecondsBefore = Json.doubleField(s, "process_load_seconds", COUNTERS);
    r.startNanos = System.nanoTime();
    return r;
  }

  /** Completes the report at the task's end: loads since the start, time, memory. */
  void finish() {
    JsonNode end = Resident.counters();
    loadsAfter = Json.longField(end, "process_loads", COUNTERS);
    loadSecondsAfter = Json.doubleField(end, "process_load_seconds", COUNTERS);
    seconds = (System.nanoTime() - startNanos) / 1e9;
    peakRssBytes = Json.longField(end, "peak_rss_bytes", COUNTERS);
    evictions = Json.longField(end, "evictions", COUNTERS);
    budgetBytes = Json.longField(end, "budget_bytes", COUNTERS);
    budgetPeakBytes = Json.longField(end, "budget_peak_bytes", COUNTERS);
    cpuVariant = Json.textField(end, "cpu_variant", COUNTERS);
  }
}
