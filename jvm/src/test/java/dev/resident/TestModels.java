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

  /** Gemma 3 270M (Q4_K_M): another architecture, and weights the fast mode repacks. */
  public static String gemma() {
    return Resident.resolve("gemma3-270m");
  }

  /** EfficientNet-Lite0, the ImageNet classifier (converted to ONNX when pulled). */
  public static String efficientnet() {
    return Resident.resolve("efficientnet-lite0");
  }

  /** The folder of real test photos (scripts/test-photos.sh fetches them once). */
  public static Path photos() throws IOException {
    try {
      Process p =
          new ProcessBuilder("bash", "../scripts/test-photos.sh")
              .redirectError(ProcessBuilder.Redirect.INHERIT)
              .start();
      String dir = new String(p.getInputStream().readAllBytes()).trim();
      if (p.waitFor() != 0 || dir.isEmpty()) {
        throw new IOException("scripts/test-photos.sh failed: the test photos are unavailable");
      }
      return Path.of(dir);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  /** A file that starts like a GGUF and then stops: a corrupt model. */
  public static Path corrupt(Path dir) throws IOException {
    Path p = dir.resolve("corrupt.gguf");
    try (var in = Files.newInputStream(Path.of(small()))) {
      Files.write(p, in.readNBytes(4096));
    }
    return p;
  }
}
