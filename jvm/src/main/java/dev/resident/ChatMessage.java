package dev.resident;

import java.io.Serializable;
import java.util.Objects;

/** One message of a chat prompt, rendered with the model's own chat template. */
public record ChatMessage(String role, String content) implements Serializable {
  public ChatMessage {
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(content, "content");
  }
}
