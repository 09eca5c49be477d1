package dev.resident.spark;

import dev.resident.ResidentException;
import dev.resident.internal.Contract;

/** How executors hold the model (the loading strategies compared in the README). */
public enum Strategy {
  /** Each task loads its own copy and frees it at the end: the naive pattern, for comparison. */
  PER_PARTITION("per-partition"),
  /** One resident model per executor JVM, one predictor (own context) per task thread. */
  SHARED("shared"),
  /** One resident model per executor JVM, all task threads feeding one batch engine. Default. */
  SHARED_BATCHED("shared-batched");

  private final String label;

  Strategy(String label) {
    this.label = label;
  }

  public String label() {
    return label;
  }

  /**
   * The strategy of this name, by the core's rule (case and blanks ignored; the CLI's former names
   * {@code batched} and {@code predictor-per-thread} read as shared-batched and shared).
   * IllegalArgumentException lists the names.
   */
  public static Strategy parse(String name) {
    String canonical;
    try {
      canonical = Contract.strategyName(name);
    } catch (ResidentException e) {
      throw new IllegalArgumentException(e.getMessage().replaceFirst("^invalid_argument: ", ""), e);
    }
    for (Strategy s : values()) {
      if (s.label.equals(canonical)) return s;
    }
    throw new IllegalStateException("the core named a strategy this jar lacks: " + canonical);
  }

  @Override
  public String toString() {
    return label;
  }
}
