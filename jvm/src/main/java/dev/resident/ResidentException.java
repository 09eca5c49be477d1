package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Contract;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * An error from Resident's native engine, with a code that tells whether a retry can help (the
 * codes of the C++ core's Status, in the spirit of Abseil's).
 */
public class ResidentException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** What went wrong, and so whether to retry. */
  public enum Code {
    /** The input is wrong; the same input fails again. */
    INVALID_ARGUMENT,
    /** A file or catalog entry does not exist. */
    NOT_FOUND,
    /** Not possible in the current state (e.g. a closed handle). */
    FAILED_PRECONDITION,
    /** Not enough memory; may pass later or elsewhere. */
    RESOURCE_EXHAUSTED,
    /** Transient (a download, a busy resource); a retry may pass. */
    UNAVAILABLE,
    /** Stopped by a shutdown. */
    CANCELLED,
    /** A wait timed out. */
    DEADLINE_EXCEEDED,
    /** A file is corrupt or truncated. */
    DATA_LOSS,
    /** A bug or an engine failure. */
    INTERNAL,
  }

  private final Code code;

  public ResidentException(Code code, String message) {
    super(code.name().toLowerCase(Locale.ROOT) + ": " + message);
    this.code = code;
  }

  public ResidentException(Code code, String message, Throwable cause) {
    super(code.name().toLowerCase(Locale.ROOT) + ": " + message, cause);
    this.code = code;
  }

  /** The error of a native outcome ({@code {"code", "message"}}), or null when it has none. */
  static ResidentException fromJson(JsonNode err) {
    if (err == null || err.isNull() || err.isMissingNode()) return null;
    return new ResidentException(
        parseCode(err.path("code").asText()), err.path("message").asText());
  }

  /** Called from native code: the code's name and the UTF-8 message. */
  ResidentException(String code, byte[] message) {
    this(parseCode(code), new String(message, StandardCharsets.UTF_8));
  }

  public Code code() {
    return code;
  }

  /**
   * Whether the same call may pass when retried (later or on another machine). The rule is the C++
   * core's ({@code Status::is_retryable}), read from it: resource_exhausted, unavailable,
   * deadline_exceeded and internal.
   */
  public boolean isRetryable() {
    return Contract.retryable(code.name().toLowerCase(Locale.ROOT));
  }

  static Code parseCode(String name) {
    try {
      return Code.valueOf(name.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      return Code.INTERNAL;
    }
  }
}
