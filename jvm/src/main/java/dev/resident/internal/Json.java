package dev.resident.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.resident.ResidentException;
import java.io.IOException;

/**
 * JSON for the native boundary, with Jackson (which Spark carries). Thread-safe.
 *
 * <p>Native answers are read strictly: a field that is missing or of another type is an INTERNAL
 * error naming the field, what was found and the document it belongs to, never a silent 0 or "" (a
 * field renamed on one side of the boundary must fail the first test that reads it).
 */
public final class Json {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private Json() {}

  public static ObjectMapper mapper() {
    return MAPPER;
  }

  public static byte[] write(Object value) {
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (IOException e) {
      throw new ResidentException(ResidentException.Code.INTERNAL, "cannot write JSON", e);
    }
  }

  /** The field {@code name} of the object {@code node} (named {@code what} in errors). */
  public static JsonNode field(JsonNode node, String name, String what) {
    if (node == null || !node.isObject()) {
      throw mismatch(what, "an object", node);
    }
    JsonNode v = node.get(name);
    if (v == null) {
      throw new ResidentException(
          ResidentException.Code.INTERNAL,
          "native code returned " + what + " without its field '" + name + "': " + node);
    }
    return v;
  }

  /** An int field: a JSON integer in int's range. */
  public static int intField(JsonNode node, String name, String what) {
    JsonNode v = field(node, name, what);
    if (!v.isIntegralNumber() || !v.canConvertToInt())
      throw mismatch(what + "." + name, "an int", v);
    return v.intValue();
  }

  /** A long field: a JSON integer in long's range. */
  public static long longField(JsonNode node, String name, String what) {
    JsonNode v = field(node, name, what);
    if (!v.isIntegralNumber() || !v.canConvertToLong()) {
      throw mismatch(what + "." + name, "a long", v);
    }
    return v.longValue();
  }

  /**
   * A field the native side writes as a uint64 (a seed): a JSON integer from 0 to 2^64-1, as the
   * long of the same 64 bits.
   */
  public static long unsignedLongField(JsonNode node, String name, String what) {
    JsonNode v = field(node, name, what);
    if (!v.isIntegralNumber()
        || v.bigIntegerValue().signum() < 0
        || v.bigIntegerValue().bitLength() > 64) {
      throw mismatch(what + "." + name, "an unsigned 64-bit integer", v);
    }
    return v.bigIntegerValue().longValue();
  }

  /** A number field. */
  public static double doubleField(JsonNode node, String name, String what) {
    JsonNode v = field(node, name, what);
    if (!v.isNumber()) throw mismatch(what + "." + name, "a number", v);
    return v.doubleValue();
  }

  /** A string field. */
  public static String textField(JsonNode node, String name, String what) {
    return text(field(node, name, what), what + "." + name);
  }

  /** A boolean field. */
  public static boolean booleanField(JsonNode node, String name, String what) {
    JsonNode v = field(node, name, what);
    if (!v.isBoolean()) throw mismatch(what + "." + name, "a boolean", v);
    return v.booleanValue();
  }

  /** An array field. */
  public static JsonNode arrayField(JsonNode node, String name, String what) {
    JsonNode v = field(node, name, what);
    if (!v.isArray()) throw mismatch(what + "." + name, "an array", v);
    return v;
  }

  /** A document that must be a JSON string. */
  public static String text(JsonNode v, String what) {
    if (v == null || !v.isTextual()) throw mismatch(what, "a string", v);
    return v.textValue();
  }

  private static ResidentException mismatch(String what, String expected, JsonNode found) {
    return new ResidentException(
        ResidentException.Code.INTERNAL,
        "native code returned " + what + " as " + found + ", not " + expected);
  }

  public static JsonNode read(byte[] json) {
    try {
      return MAPPER.readTree(json);
    } catch (IOException e) {
      throw new ResidentException(
          ResidentException.Code.INTERNAL, "native code returned invalid JSON", e);
    }
  }
}
