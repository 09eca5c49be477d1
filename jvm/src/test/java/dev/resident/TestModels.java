package dev.resident;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The real models the JVM tests run, resolved through the engine's own catalog and cache. */
public final class TestModels {
  private TestModels() {}

  /** SmolLM2-135M-Instruct (pulled into the model cache on first use, then verified). */
  public static String small() {
    String explicit = System.getProperty("resident.test.model");
    if (explicit != null && !explicit.isEmpty()) return explicit;
    return Resident.resolve("smollm2-135m-instruct");
  }

  /** A file that starts like a GGUF and then stops: a corrupt model. */
  public static Path corrupt(Path dir) throws IOException {
    Path p = dir.resolve("corrupt.gguf");
    byte[] head = Files.readAllBytes(Path.of(small())).length > 0 ? new byte[4096] : new byte[0];
    try (var in = Files.newInputStream(Path.of(small()))) {
      int n = in.readNBytes(head, 0, head.length);
      Files.write(p, java.util.Arrays.copyOf(head, n));
    }
    return p;
  }
}
