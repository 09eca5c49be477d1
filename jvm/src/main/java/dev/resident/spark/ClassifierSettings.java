package dev.resident.spark;

import dev.resident.ModelSpec;
import java.io.Serializable;

/**
 * What a task of an {@link ImageClassifier} needs, fixed on the driver from its Params and the
 * data's schema, shipped with the closure.
 */
final class ClassifierSettings implements Serializable {
  private static final long serialVersionUID = 1L;

  String model;
  int inputIndex;
  // For a column of Spark's image schema: where its fields are; -1 for a binary (file) column.
  int dataIndex = -1;
  int widthIndex = -1;
  int heightIndex = -1;
  int channelsIndex = -1;
  int topK;
  Strategy strategy;
  int batchSize;
  int threads;
  ResidentStage.Executors executors;

  boolean pixels() {
    return dataIndex >= 0;
  }

  /**
   * The model spec on this executor: one session whose threads are the executor's (its tasks share
   * it, or feed its batch engine); a per-partition copy gets one task slot's share.
   */
  ModelSpec spec(String source) {
    int available = Runtime.getRuntime().availableProcessors();
    int cores = executors.executorCores;
    int executor = Math.max(1, Math.min(threads > 0 ? threads : cores, available));
    int slots = Math.max(1, cores / Math.max(1, executors.taskCpus));
    int t = strategy == Strategy.PER_PARTITION ? Math.max(1, executor / slots) : executor;
    return ModelSpec.builder(source)
        .engine("onnx")
        .task("classify")
        .threads(t)
        .parallel(batchSize)
        .build();
  }
}
