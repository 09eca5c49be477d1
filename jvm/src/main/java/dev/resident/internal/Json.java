package dev.resident.internal;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.resident.ResidentException;
import java.io.IOException;

/** JSON for the native boundary, with Jackson (which Spark carries). Thread-safe. */
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

  public static JsonNode read(byte[] json) {
    try {
      return MAPPER.readTree(json);
    } catch (IOException e) {
      throw new ResidentException(
          ResidentException.Code.INTERNAL, "native code returned invalid JSON", e);
    }
  }
}
