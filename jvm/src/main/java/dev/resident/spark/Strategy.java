package dev.resident.spark;

import java.util.Locale;

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

  public static Strategy parse(String name) {
    String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
    for (Strategy s : values()) {
      if (s.label.equals(n)) return s;
    }
    throw new IllegalArgumentException(
        "unknown strategy '" + name + "': use shared-batched, shared or per-partition");
  }

  @Override
  public String toString() {
    return label;
  }
}
