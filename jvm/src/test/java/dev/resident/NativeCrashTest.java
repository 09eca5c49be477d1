package dev.resident;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.NativeBridge;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The CPU variant the JVM's native code runs, and what happens around native faults: the JVM's own
 * signals still work with Resident's handler in front of them, and a crash in Resident's code
 * leaves a line on stderr that names it.
 */
class NativeCrashTest {
  @Test
  void systemInfoNamesTheChosenVariantAndWhyOthersWereSkipped() {
    JsonNode info = Resident.systemInfo();
    String chosen = info.path("cpu_variant").asText();
    assertFalse(chosen.isEmpty(), info::toString);
    int chosenCount = 0;
    for (JsonNode v : info.path("variants")) {
      if (v.path("chosen").asBoolean()) {
        chosenCount++;
        assertEquals(chosen, v.path("name").asText());
      } else {
        assertFalse(v.path("reason").asText().isEmpty(), v::toString);
      }
    }
    assertEquals(1, chosenCount);
    assertTrue(Files.isRegularFile(Paths.get(info.path("cpu_variant_path").asText())));
  }

  private static int lengthOf(String s) {
    return s.length();
  }

  /**
   * HotSpot turns SIGSEGV into NullPointerException in compiled code and uses it for safepoints;
   * Resident's handler sits in front and must hand those back untouched.
   */
  @Test
  void theJvmsOwnFaultsStillWorkAfterResidentLoads() {
    Resident.systemInfo(); // the native library is loaded and its handlers installed
    String[] values = {"a", null, "bcd", null};
    long npes = 0;
    long total = 0;
    for (int i = 0; i < 400_000; i++) {
      try {
        total += lengthOf(values[i & 3]);
      } catch (NullPointerException e) {
        npes++;
      }
      if ((i & 0xffff) == 0) System.gc(); // safepoints while the loop runs compiled
    }
    assertEquals(200_000, npes);
    assertEquals(100_000 * 4, total);
  }

  /** The child JVM: loads Resident, then hands the native bridge a handle that was never made. */
  public static final class CrashingMain {
    public static void main(String[] args) {
      Resident.systemInfo();
      System.err.println("child: about to crash");
      System.err.flush();
      NativeBridge.predictorGenerate(0x10L, "{}".getBytes(StandardCharsets.UTF_8), 0);
      System.err.println("child: still alive");
    }
  }

  @Test
  void aCrashInNativeCodeNamesResidentOnStderr(@TempDir Path dir) throws Exception {
    Path java = Paths.get(System.getProperty("java.home"), "bin", "java");
    Path stderr = dir.resolve("stderr.txt");
    List<String> cmd = new ArrayList<>();
    cmd.add(java.toString());
    cmd.add("-XX:ErrorFile=" + dir.resolve("hs_err_%p.log"));
    cmd.add("-XX:-CreateCoredumpOnCrash");
    cmd.add("-Dresident.native.cache=" + dir.resolve("native"));
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add(CrashingMain.class.getName());
    Process p =
        new ProcessBuilder(cmd)
            .redirectError(stderr.toFile())
            .redirectOutput(dir.resolve("stdout.txt").toFile())
            .start();
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the child JVM did not exit");
    String err = Files.readString(stderr);
    assertNotEquals(0, p.exitValue(), err);
    assertFalse(err.contains("child: still alive"), err);
    assertTrue(err.contains("[resident] fatal SIGSEGV"), err);
    assertTrue(err.contains("in native code: resident "), err);
    String variant = Resident.systemInfo().path("cpu_variant").asText();
    assertTrue(err.contains("CPU variant " + variant), err);
    // The JVM's own report still comes (hs_err), so the handler chained to it.
    try (var files = Files.list(dir)) {
      assertTrue(
          files.anyMatch(f -> f.getFileName().toString().startsWith("hs_err_")),
          "no hs_err file: the JVM's handler did not run");
    }
  }
}
