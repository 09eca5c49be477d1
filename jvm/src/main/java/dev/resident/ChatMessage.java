package dev.resident;

import java.io.Serializable;

/**
 * One message of a chat prompt, rendered with the model's own chat template. A null role or content
 * is carried as it is: the row contract fails that row with an error naming the message.
 */
public record ChatMessage(String role, String content) implements Serializable {}
