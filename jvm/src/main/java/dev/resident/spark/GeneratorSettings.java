package dev.resident.spark;

import dev.resident.ChatMessage;
import dev.resident.GenerationRequest;
import dev.resident.ModelSpec;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.sql.Row;

/**
 * What a task needs to know, fixed on the driver from the transformer's Params and shipped with the
 * closure. Plain fields: this is a value, built and checked in {@link TextGenerator#settings}. The
 * row rules and model options hold only the Params a user set: the rest take the C++ core's
 * defaults there, never restated here.
 */
final class GeneratorSettings implements Serializable {
  private static final long serialVersionUID = 2L;

  String model;
  int inputIndex;
  int idIndex = -1;

  /** The job's row rules (template, system prompt, chat, sampling, timeout): the Params set. */
  GenerationRequest rules = GenerationRequest.rules();

  /** The model options set by Params (context, determinism, weights, KV cells, base seed). */
  ModelSpec options;

  Strategy strategy;
  int parallel;
  int threads;
  long memoryBudgetBytes; // 0 = the native default (cgroup limit, else the machine)
  String memoryBudgetSource;
  int executorCores;
  int taskCpus;

  /** Compute threads of the whole executor: the Param, else the executor's cores. */
  int executorThreads() {
    int available = Runtime.getRuntime().availableProcessors();
    int t = threads > 0 ? threads : executorCores;
    return Math.max(1, Math.min(t, available));
  }

  /**
   * Threads of one task's own context (strategies shared and per-partition): the executor's threads
   * split between its task slots, so the executor never runs more compute threads than it has cores
   * (llama.cpp's spinning threads collapse when oversubscribed).
   */
  int threadsPerTask() {
    int slots = Math.max(1, executorCores / Math.max(1, taskCpus));
    return Math.max(1, executorThreads() / slots);
  }

  /** The model spec of this job on this executor, for a model at {@code source}. */
  ModelSpec spec(String source) {
    boolean batched = strategy == Strategy.SHARED_BATCHED;
    return options.toBuilder()
        .source(source)
        .threads(batched ? executorThreads() : threadsPerTask())
        .parallel(batched ? parallel : 1)
        .build();
  }

  /**
   * The request of one row by the row contract: {@code input} is the prompt (a string, or chat
   * messages as rows of role and content, a Scala or Java list), {@code id} the row's id; either
   * may be null (a row without a prompt fails with the core's error saying so).
   */
  GenerationRequest request(Object input, Object id) {
    Object key = idValue(id);
    if (input == null) return rules.forRow(null, null, key);
    if (input instanceof String) return rules.forRow((String) input, null, key);
    List<ChatMessage> messages = new ArrayList<>();
    for (Object o : asList(input)) {
      Row m = (Row) o;
      messages.add(
          m == null
              ? new ChatMessage(null, null)
              : new ChatMessage(m.<String>getAs("role"), m.<String>getAs("content")));
    }
    return rules.forRow(null, messages, key);
  }

  private static List<?> asList(Object seq) {
    if (seq instanceof List) return (List<?>) seq;
    if (seq instanceof scala.collection.Seq) {
      return scala.jdk.javaapi.CollectionConverters.asJava((scala.collection.Seq<?>) seq);
    }
    throw new IllegalArgumentException(
        "a prompt is " + seq.getClass().getName() + ": use a string or an array of messages");
  }

  /**
   * A row id as the row contract reads it: text as it is, a number or a boolean sent as such (the
   * core writes it as JSON does, as the CLI's rows have it: 7, 7.0); any other value as its string.
   */
  static Object idValue(Object id) {
    if (id == null || id instanceof String || id instanceof Boolean) return id;
    if (id instanceof Number) return id;
    return String.valueOf(id);
  }
}
