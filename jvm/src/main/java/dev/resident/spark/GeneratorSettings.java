package dev.resident.spark;

import dev.resident.GenerationRequest;
import dev.resident.ModelSpec;
import java.io.Serializable;
import java.util.List;

/**
 * What a task needs to know, fixed on the driver from the transformer's Params and shipped with the
 * closure. Plain fields: this is a value, built and checked in {@link TextGenerator#settings}.
 */
final class GeneratorSettings implements Serializable {
  private static final long serialVersionUID = 1L;

  String model;
  int inputIndex;
  boolean inputIsChat;
  int idIndex = -1;
  int maxTokens;
  double temperature;
  int topK;
  double topP;
  double minP;
  long seed;
  List<String> stop;
  String systemPrompt;
  String promptTemplate;
  boolean chat;
  Strategy strategy;
  int parallel;
  int threads;
  int ctxSize;
  String determinism;
  String weights;
  int kvTokens;
  double rowTimeout; // seconds; 0 = none
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
    int t = strategy == Strategy.SHARED_BATCHED ? executorThreads() : threadsPerTask();
    return ModelSpec.builder(source)
        .threads(t)
        .parallel(strategy == Strategy.SHARED_BATCHED ? parallel : 1)
        .ctxSize(ctxSize)
        .determinism(determinism)
        .weights(weights)
        .kvTokens(kvTokens)
        .seed(seed)
        .build();
  }

  /** A request with this job's sampling parameters; the prompt is set by the caller. */
  GenerationRequest sampling(GenerationRequest r) {
    return r.maxTokens(maxTokens)
        .temperature((float) temperature)
        .topK(topK)
        .topP((float) topP)
        .minP((float) minP)
        .stop(stop)
        .timeoutSeconds(rowTimeout);
  }
}
