package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Contract;
import dev.resident.internal.Json;
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

  /**
   * The error of a native outcome ({@code {"code", "message", ...}}), or null when the outcome has
   * none ({@code err} null: no such field).
   *
   * @throws ResidentException INTERNAL when the error is not an object with a known code and a
   *     message (a native answer Java cannot read)
   */
  static ResidentException fromJson(JsonNode err) {
    if (err == null) return null;
    String code = Json.textField(err, "code", "an error");
    String message = Json.textField(err, "message", "an error");
    Code c = knownCode(code);
    if (c == null) throw unknownCode(code, message);
    return new ResidentException(c, message);
  }

  /**
   * Called from native code: the code's name and the UTF-8 message. An unknown code (a code the
   * native side added and Java lacks) becomes INTERNAL with a message that names it.
   */
  ResidentException(String code, byte[] message) {
    this(
        knownCode(code) == null ? Code.INTERNAL : knownCode(code),
        knownCode(code) == null
            ? unknownCodeMessage(code, new String(message, StandardCharsets.UTF_8))
            : new String(message, StandardCharsets.UTF_8));
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

  /** The code of a native code name ({@code invalid_argument}, ...), or null when there is none. */
  static Code knownCode(String name) {
    if (name == null) return null;
    for (Code c : Code.values()) {
      if (c.name().toLowerCase(Locale.ROOT).equals(name)) return c;
    }
    return null;
  }

  private static String unknownCodeMessage(String code, String message) {
    return "native code returned an unknown status code '" + code + "' (message: " + message + ")";
  }

  private static ResidentException unknownCode(String code, String message) {
    return new ResidentException(Code.INTERNAL, unknownCodeMessage(code, message));
  }
}
