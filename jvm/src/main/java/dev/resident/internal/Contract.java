package dev.resident.internal;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.charset.StandardCharsets;

/**
 * What the Java side takes from the C++ core instead of restating it: the defaults of a model spec
 * and of a job's row rules, the strategy names, and which error codes a retry may cure. Read once
 * per JVM, on first use (which loads the native library).
 */
public final class Contract {
  private static volatile JsonNode contract;

  private Contract() {}

  private static JsonNode get() {
    JsonNode c = contract;
    if (c == null) {
      c = Json.read(NativeBridge.contract());
      contract = c;
    }
    return c;
  }

  /** The core's default of a model spec's field (snake_case, as the native side names it). */
  public static JsonNode specDefault(String field) {
    return required(get().path("spec"), field);
  }

  /** Every field of a model spec with the core's defaults (a copy). */
  public static JsonNode specDefaults() {
    return get().path("spec").deepCopy();
  }

  /** The core's default of a row rule (sampling, template, system prompt, chat, timeout). */
  public static JsonNode ruleDefault(String field) {
    return required(get().path("rules"), field);
  }

  /** The core's default of an image request's field (e.g. top_k). */
  public static JsonNode classifyDefault(String field) {
    return required(get().path("classify"), field);
  }

  /** The column a row's id is read from when the job names none (used when the data has it). */
  public static String idField() {
    return Json.textField(get(), "id_field", "the contract");
  }

  /** The default loading strategy's name. */
  public static String defaultStrategy() {
    return Json.textField(get(), "strategy", "the contract");
  }

  /**
   * A strategy's canonical name; throws {@link dev.resident.ResidentException} (invalid_argument)
   * listing the names when there is none.
   */
  public static String strategyName(String name) {
    byte[] n = (name == null ? "" : name).getBytes(StandardCharsets.UTF_8);
    return Json.text(Json.read(NativeBridge.strategyName(n)), "a strategy name");
  }

  /**
   * Whether a retry may cure an error of this code (the code's lower-case name); false when the
   * native library cannot be loaded, as then nothing can be retried here.
   *
   * @throws dev.resident.ResidentException INTERNAL when the core's contract does not rule on the
   *     code
   */
  public static boolean retryable(String code) {
    JsonNode c;
    try {
      c = get();
    } catch (LinkageError | RuntimeException e) {
      return false;
    }
    return Json.booleanField(
        Json.field(c, "retryable", "the contract"), code, "the contract's retryable codes");
  }

  private static JsonNode required(JsonNode node, String field) {
    if (node == null || !node.isObject()) {
      throw new IllegalStateException("the native core's contract lacks the defaults of " + field);
    }
    JsonNode v = node.get(field);
    if (v == null) throw new IllegalStateException("the native core has no default for " + field);
    return v;
  }
}
