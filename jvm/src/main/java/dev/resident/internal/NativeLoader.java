package dev.resident.internal;

import dev.resident.ResidentException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Loads libresident_jni.so once per JVM, searching in this order:
 *
 * <ol>
 *   <li>the file named by the system property {@code resident.native.lib};
 *   <li>each folder of {@code java.library.path};
 *   <li>the jar's {@code native/linux-x86_64/}, unpacked into a per-user cache folder named by the
 *       content hash of the whole set ({@code resident.native.cache}, else {@code
 *       $XDG_CACHE_HOME/resident/native}, else {@code ~/.cache/resident/native}).
 * </ol>
 *
 * <p>Unpacking goes to a private temporary folder that is then renamed into place, so JVMs that
 * start together on one node never see a half-written library, and they all end up loading the same
 * files. The libraries beside libresident_jni.so (llama.cpp's, and ggml's CPU backends, one per
 * instruction-set level) are found through its {@code $ORIGIN} run path.
 */
public final class NativeLoader {
  static final String LIBRARY = "libresident_jni.so";
  static final String RESOURCE_DIR = "native/linux-x86_64/";

  private static Path loaded;
  private static ResidentException failure;

  private NativeLoader() {}

  /** Loads the library if not yet loaded; returns the file loaded. Thread-safe. */
  public static synchronized Path load() {
    if (loaded != null) return loaded;
    if (failure != null) throw failure;
    List<String> tried = new ArrayList<>();
    try {
      loaded = find(tried);
      System.load(loaded.toString());
      return loaded;
    } catch (UnsatisfiedLinkError | IOException | RuntimeException e) {
      loaded = null;
      failure =
          new ResidentException(
              ResidentException.Code.NOT_FOUND,
              "could not load Resident's native library ("
                  + e.getMessage()
                  + "); tried: "
                  + String.join(", ", tried)
                  + ". Use the Resident jar built for linux-x86_64, or set -Dresident.native.lib"
                  + " to a libresident_jni.so with its llama.cpp libraries beside it",
              e);
      throw failure;
    }
  }

  private static Path find(List<String> tried) throws IOException {
    String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
    if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
      tried.add(
          "(none: this jar carries linux-x86_64 only, this JVM runs " + os + "/" + arch + ")");
      throw new IOException("unsupported platform " + os + "/" + arch);
    }
    String explicit = System.getProperty("resident.native.lib");
    if (explicit != null && !explicit.isEmpty()) {
      tried.add(explicit + " (resident.native.lib)");
      Path p = Paths.get(explicit);
      if (!Files.isRegularFile(p)) throw new IOException("no file at " + explicit);
      return p.toAbsolutePath();
    }
    for (String dir : System.getProperty("java.library.path", "").split(":")) {
      if (dir.isEmpty()) continue;
      Path p = Paths.get(dir, LIBRARY);
      tried.add(p.toString());
      if (Files.isRegularFile(p)) return p.toAbsolutePath();
    }
    tried.add("jar resource " + RESOURCE_DIR + LIBRARY);
    return unpack();
  }

  /** The jar's native files: name to sha256, read from its index. */
  private static Map<String, String> index(StringBuilder bundle) throws IOException {
    Map<String, String> files = new LinkedHashMap<>();
    try (InputStream in = resource("index.txt");
        BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      for (String line; (line = r.readLine()) != null; ) {
        String[] parts = line.trim().split(" ", 2);
        if (parts.length != 2) continue;
        if (parts[0].equals("bundle")) bundle.append(parts[1]);
        else files.put(parts[1], parts[0]);
      }
    }
    if (bundle.length() == 0 || !files.containsKey(LIBRARY)) {
      throw new IOException("the jar's " + RESOURCE_DIR + "index.txt is incomplete");
    }
    return files;
  }

  private static InputStream resource(String name) throws IOException {
    InputStream in = NativeLoader.class.getClassLoader().getResourceAsStream(RESOURCE_DIR + name);
    if (in == null) throw new IOException("the jar has no " + RESOURCE_DIR + name);
    return in;
  }

  static Path cacheRoot() {
    String configured = System.getProperty("resident.native.cache");
    if (configured != null && !configured.isEmpty()) return Paths.get(configured);
    String xdg = System.getenv("XDG_CACHE_HOME");
    Path base =
        xdg != null && !xdg.isEmpty()
            ? Paths.get(xdg)
            : Paths.get(System.getProperty("user.home"), ".cache");
    return base.resolve("resident").resolve("native");
  }

  private static Path unpack() throws IOException {
    StringBuilder bundle = new StringBuilder();
    Map<String, String> files = index(bundle);
    Path root = cacheRoot();
    Path target = root.resolve(bundle.toString());
    if (Files.isRegularFile(target.resolve(".complete"))) return target.resolve(LIBRARY);

    Files.createDirectories(root);
    Path tmp = Files.createTempDirectory(root, ".unpack-");
    try {
      for (Map.Entry<String, String> f : files.entrySet()) {
        Path out = tmp.resolve(f.getKey());
        // Hashed as it is copied: one pass over the bytes, not two.
        MessageDigest md = sha256();
        try (InputStream in = new DigestInputStream(resource(f.getKey()), md)) {
          Files.copy(in, out);
        }
        String got = HexFormat.of().formatHex(md.digest());
        if (!got.equals(f.getValue())) {
          throw new IOException(
              "the jar's "
                  + f.getKey()
                  + " has sha256 "
                  + got
                  + ", its index says "
                  + f.getValue());
        }
      }
      Files.createFile(tmp.resolve(".complete"));
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (FileAlreadyExistsException | AtomicMoveNotSupportedException e) {
        // Another JVM got there first with the same content: use its copy.
        if (!Files.isRegularFile(target.resolve(".complete"))) throw e;
      } catch (IOException e) {
        // rename(2) onto a non-empty folder fails with ENOTEMPTY, reported as
        // a plain IOException: the same race, lost.
        if (!Files.isRegularFile(target.resolve(".complete"))) throw e;
      }
    } finally {
      deleteTree(tmp);
    }
    return target.resolve(LIBRARY);
  }

  private static MessageDigest sha256() throws IOException {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IOException("SHA-256 is not available", e);
    }
  }

  private static void deleteTree(Path dir) {
    if (!Files.exists(dir)) return;
    try (Stream<Path> walk = Files.walk(dir)) {
      walk.sorted(Comparator.reverseOrder())
          .forEach(
              p -> {
                try {
                  Files.deleteIfExists(p);
                } catch (IOException ignored) {
                  // A leftover temporary folder costs disk, not correctness.
                }
              });
    } catch (IOException ignored) {
      // As above.
    }
  }
}
