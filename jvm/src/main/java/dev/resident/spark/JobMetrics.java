package dev.resident.spark;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.apache.spark.SparkContext;
import org.apache.spark.util.CollectionAccumulator;
import org.apache.spark.util.LongAccumulator;

/**
 * The metrics of one {@link TextGenerator#transform}: every task's {@link TaskReport}, summed per
 * executor on the driver. As with any Spark accumulator, a result computed twice (two actions on an
 * uncached result, a retried task) reports twice; {@link ResidentJob} runs one action.
 */
public final class JobMetrics implements Serializable {
  private static final long serialVersionUID = 1L;

  private final CollectionAccumulator<TaskReport> reports;
  // Named accumulators: the Spark UI shows them on the stage's page, summed and per task.
  private final LongAccumulator rowsOk;
  private final LongAccumulator rowsFailed;
  private final LongAccumulator tokensIn;
  private final LongAccumulator tokensOut;
  private final LongAccumulator loads;
  private final LongAccumulator loadMillis;

  private JobMetrics(SparkContext sc) {
    this.reports = sc.collectionAccumulator("resident.tasks");
    this.rowsOk = sc.longAccumulator("resident rows ok");
    this.rowsFailed = sc.longAccumulator("resident rows failed");
    this.tokensIn = sc.longAccumulator("resident tokens in");
    this.tokensOut = sc.longAccumulator("resident tokens out");
    this.loads = sc.longAccumulator("resident model loads");
    this.loadMillis = sc.longAccumulator("resident model load ms");
  }

  static JobMetrics register(SparkContext sc) {
    return new JobMetrics(sc);
  }

  void add(TaskReport r) {
    reports.add(r);
    rowsOk.add(r.rowsOk);
    rowsFailed.add(r.rowsFailed);
    tokensIn.add(r.tokensIn);
    tokensOut.add(r.tokensOut);
    loads.add(r.loadsAfter - r.loadsBefore);
    loadMillis.add(Math.round(1000 * (r.loadSecondsAfter - r.loadSecondsBefore)));
  }

  /** The task reports received so far. */
  public List<TaskReport> tasks() {
    return new ArrayList<>(reports.value());
  }

  /** Totals of one executor. */
  public static final class ExecutorTotals {
    public String executorId;
    public int tasks;

    /** Model loads in this job: the engine's counter at the last task end minus the first start. */
    public long loads;

    public double loadSeconds;
    public long rowsOk;
    public long rowsFailed;
    public long tokensIn;
    public long tokensOut;

    /** Peak resident memory of the executor process (JVM and native), as of its last task. */
    public long peakRssBytes;

    /** Evictions of idle models in the executor so far (as of its last task). */
    public long evictions;

    /** The executor's native memory budget, and the most of it its models and contexts held. */
    public long budgetBytes;

    public long budgetPeakBytes;

    /**
     * The CPU variants of llama.cpp that ran the rows (a row's text can differ between variants:
     * docs/determinism.md), comma-separated when executors differ.
     */
    public String cpuVariants = "";

    /** As a map, for JSON summaries. */
    public Map<String, Object> toMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("executor_id", executorId);
      m.put("tasks", tasks);
      m.put("model_loads", loads);
      m.put("load_seconds", loadSeconds);
      m.put("rows_ok", rowsOk);
      m.put("rows_failed", rowsFailed);
      m.put("tokens_in", tokensIn);
      m.put("tokens_out", tokensOut);
      m.put("peak_rss_bytes", peakRssBytes);
      m.put("evictions", evictions);
      m.put("budget_bytes", budgetBytes);
      m.put("budget_peak_bytes", budgetPeakBytes);
      m.put("cpu_variants", cpuVariants);
      return m;
    }

    /** One readable line, e.g. for a log or a notebook. */
    @Override
    public String toString() {
      return String.format(
          Locale.ROOT,
          "%s: %d tasks, rows %d ok / %d failed, tokens %d in / %d out, %d model"
              + " loads (%.2f s), peak RSS %.1f MiB, %d evictions, CPU variant %s",
          executorId.equals("all") ? "all executors" : "executor " + executorId,
          tasks,
          rowsOk,
          rowsFailed,
          tokensIn,
          tokensOut,
          loads,
          loadSeconds,
          peakRssBytes / 1048576.0,
          evictions,
          cpuVariants.isEmpty() ? "-" : cpuVariants);
    }
  }

  /** The totals, then one line per executor. */
  @Override
  public String toString() {
    StringBuilder b = new StringBuilder("Resident job metrics: ").append(total());
    for (ExecutorTotals t : perExecutor().values()) b.append("\n  ").append(t);
    return b.toString();
  }

  /** Totals per executor id, in id order. */
  public Map<String, ExecutorTotals> perExecutor() {
    Map<String, long[]> loadRange = new TreeMap<>();
    Map<String, double[]> secondsRange = new TreeMap<>();
    Map<String, ExecutorTotals> out = new TreeMap<>();
    for (TaskReport r : tasks()) {
      ExecutorTotals t = out.computeIfAbsent(r.executorId, k -> new ExecutorTotals());
      t.executorId = r.executorId;
      t.tasks++;
      t.rowsOk += r.rowsOk;
      t.rowsFailed += r.rowsFailed;
      t.tokensIn += r.tokensIn;
      t.tokensOut += r.tokensOut;
      t.peakRssBytes = Math.max(t.peakRssBytes, r.peakRssBytes);
      t.evictions = Math.max(t.evictions, r.evictions);
      t.budgetBytes = Math.max(t.budgetBytes, r.budgetBytes);
      t.budgetPeakBytes = Math.max(t.budgetPeakBytes, r.budgetPeakBytes);
      t.cpuVariants = joinVariants(t.cpuVariants, r.cpuVariant);
      long[] lr = loadRange.computeIfAbsent(r.executorId, k -> new long[] {Long.MAX_VALUE, 0});
      lr[0] = Math.min(lr[0], r.loadsBefore);
      lr[1] = Math.max(lr[1], r.loadsAfter);
      double[] sr =
          secondsRange.computeIfAbsent(r.executorId, k -> new double[] {Double.MAX_VALUE, 0});
      sr[0] = Math.min(sr[0], r.loadSecondsBefore);
      sr[1] = Math.max(sr[1], r.loadSecondsAfter);
    }
    for (ExecutorTotals t : out.values()) {
      long[] lr = loadRange.get(t.executorId);
      double[] sr = secondsRange.get(t.executorId);
      t.loads = lr[1] - lr[0];
      t.loadSeconds = sr[1] - sr[0];
    }
    return out;
  }

  /** Sums over all executors. */
  public ExecutorTotals total() {
    ExecutorTotals all = new ExecutorTotals();
    all.executorId = "all";
    for (ExecutorTotals t : perExecutor().values()) {
      all.tasks += t.tasks;
      all.loads += t.loads;
      all.loadSeconds += t.loadSeconds;
      all.rowsOk += t.rowsOk;
      all.rowsFailed += t.rowsFailed;
      all.tokensIn += t.tokensIn;
      all.tokensOut += t.tokensOut;
      all.peakRssBytes = Math.max(all.peakRssBytes, t.peakRssBytes);
      all.evictions += t.evictions;
      all.budgetBytes = Math.max(all.budgetBytes, t.budgetBytes);
      all.budgetPeakBytes = Math.max(all.budgetPeakBytes, t.budgetPeakBytes);
      all.cpuVariants = joinVariants(all.cpuVariants, t.cpuVariants);
    }
    return all;
  }

  /** The variants in {@code a} and {@code b} (comma-separated lists), each once, sorted. */
  private static String joinVariants(String a, String b) {
    TreeSet<String> all = new TreeSet<>();
    for (String s : (a + "," + b).split(",")) {
      if (!s.isEmpty()) all.add(s);
    }
    return String.join(",", all);
  }
}
