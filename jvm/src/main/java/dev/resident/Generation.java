package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Json;

/**
 * The result of one request: the completion and its counts, or the error that explains why there is
 * none (a bad row fails alone; the others complete).
 */
public final class Generation {
  private final String text;
  private final int promptTokens;
  private final int completionTokens;
  private final String finishReason;
  private final long seed;
  private final double promptSeconds;
  private final double generationSeconds;
  private final ResidentException error;

  private Generation(
      String text,
      int promptTokens,
      int completionTokens,
      String finishReason,
      long seed,
      double promptSeconds,
      double generationSeconds,
      ResidentException error) {
    this.text = text;
    this.promptTokens = promptTokens;
    this.completionTokens = completionTokens;
    this.finishReason = finishReason;
    this.seed = seed;
    this.promptSeconds = promptSeconds;
    this.generationSeconds = generationSeconds;
    this.error = error;
  }

  /**
   * A native outcome: {@code {"error": {...}}} or every field of a generation.
   *
   * @throws ResidentException INTERNAL naming the field when one is missing or of another type, or
   *     the code when the error's is unknown
   */
  static Generation fromJson(JsonNode j) {
    if (j == null || !j.isObject()) {
      throw new ResidentException(
          ResidentException.Code.INTERNAL, "native code returned a generation as " + j);
    }
    ResidentException error = ResidentException.fromJson(j.get("error"));
    if (error != null) return failed(error);
    String what = "a generation";
    return new Generation(
        Json.textField(j, "text", what),
        Json.intField(j, "prompt_tokens", what),
        Json.intField(j, "completion_tokens", what),
        Json.textField(j, "finish_reason", what),
        Json.unsignedLongField(j, "seed", what),
        Json.doubleField(j, "prompt_seconds", what),
        Json.doubleField(j, "generation_seconds", what),
        null);
  }

  /** A result that holds only an error. */
  public static Generation failed(ResidentException error) {
    return new Generation(null, 0, 0, null, 0, 0, 0, error);
  }

  public boolean isOk() {
    return error == null;
  }

  /** The generated text (valid UTF-8), or null when the request failed. */
  public String text() {
    return text;
  }

  public int promptTokens() {
    return promptTokens;
  }

  public int completionTokens() {
    return completionTokens;
  }

  /** {@code stop}, {@code length} or {@code context}; null when the request failed. */
  public String finishReason() {
    return finishReason;
  }

  /** The seed the sampler used. */
  public long seed() {
    return seed;
  }

  public double promptSeconds() {
    return promptSeconds;
  }

  public double generationSeconds() {
    return generationSeconds;
  }

  /** Why the request failed, or null. */
  public ResidentException error() {
    return error;
  }

  /** The text, or throws the request's error. */
  public String textOrThrow() {
    if (error != null) throw error;
    return text;
  }
}
