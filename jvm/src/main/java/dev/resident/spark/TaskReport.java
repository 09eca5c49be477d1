package dev.resident.spark;

import java.io.Serializable;

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
}
