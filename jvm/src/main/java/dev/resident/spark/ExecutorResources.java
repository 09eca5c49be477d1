package dev.resident.spark;

import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.spark.SparkConf;
import org.apache.spark.SparkEnv;

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

  /** The executor's id ("driver" in local mode). */
  static String executorId() {
    SparkEnv env = SparkEnv.get();
    return env == null ? "driver" : env.executorId();
  }
}
