package dev.resident.spark;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;
import org.apache.spark.network.util.JavaUtils;

/** The cores and identity of the executor a task runs in. */
final class ExecutorResources {
  private static final Pattern LOCAL = Pattern.compile("local(?:-cluster)?\\[([^\\]]*)\\]");

  private ExecutorResources() {}

  /**
   * Cores of one executor: {@code spark.executor.cores}, else the N of {@code local[N]} or the
   * cores-per-worker of {@code local-cluster[W,C,M]}, else every core of the machine.
   */
  static int executorCores(SparkConf conf) {
    int machine = Runtime.getRuntime().availableProcessors();
    if (conf.contains("spark.executor.cores")) return conf.getInt("spark.executor.cores", machine);
    Matcher m = LOCAL.matcher(conf.get("spark.master", ""));
    if (m.matches()) {
      String[] parts = m.group(1).split(",");
      String n = parts.length == 3 ? parts[1].trim() : parts[0].trim();
      if (n.equals("*")) return machine;
      try {
        return Math.max(1, Integer.parseInt(n));
      } catch (NumberFormatException e) {
        return machine;
      }
    }
    return machine;
  }

  /** A native memory budget per executor and the setting it came from; 0 bytes = automatic. */
  record Budget(long bytes, String source) {}

  /**
   * The native memory budget of each executor: the {@code memoryBudget} Param, else {@code
   * spark.executor.memoryOverhead} (plus {@code spark.executor.pyspark.memory}) where set, which is
   * what YARN and Kubernetes hold an executor's native memory to; else 0, and the engine uses the
   * container's (cgroup) limit or the machine's memory.
   */
  static Budget memoryBudget(String param, SparkConf conf) {
    if (param != null && !param.isBlank()) {
      try {
        long bytes = JavaUtils.byteStringAsBytes(param.trim());
        if (bytes > 0) return new Budget(bytes, "the memoryBudget Param");
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException(
          "TextGenerator: memoryBudget '" + param + "' is not a size like 6g or 512m");
    }
    if (conf.contains("spark.executor.memoryOverhead")) {
      long bytes = conf.getSizeAsMb("spark.executor.memoryOverhead") << 20;
      String source = "spark.executor.memoryOverhead";
      if (conf.contains("spark.executor.pyspark.memory")) {
        bytes += conf.getSizeAsMb("spark.executor.pyspark.memory") << 20;
        source += " + spark.executor.pyspark.memory";
      }
      return new Budget(bytes, source);
    }
    return new Budget(0, "");
  }

  /** The executor's id ("driver" in local mode). */
  static String executorId() {
    SparkEnv env = SparkEnv.get();
    return env == null ? "driver" : env.executorId();
  }
}
