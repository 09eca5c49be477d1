// The soak test's JVM (bench/soak.py compiles and runs it): one process, like
// one executor, for
//   1. ROWS rows streamed through the process's batch engine, a window of
//      futures in flight, with bad rows and cancelled rows mixed in; resident
//      memory (VmRSS) after every 1000 rows;
//   2. CYCLES create/close cycles of a private model, a predictor and a batch
//      engine over it; VmRSS after every 10 cycles.
// Prints one JSON document on stdout.
import dev.resident.BatchEngine;
import dev.resident.Generation;
import dev.resident.GenerationRequest;
import dev.resident.Model;
import dev.resident.ModelSpec;
import dev.resident.Predictor;
import dev.resident.Resident;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;

public final class Soak {
  static long rssBytes() throws Exception {
    for (String line : Files.readAllLines(Paths.get("/proc/self/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
      }
    }
    return -1;
  }

  public static void main(String[] a) throws Exception {
    String model = a[0];
    int rows = Integer.parseInt(a[1]), cycles = Integer.parseInt(a[2]);
    ModelSpec spec = ModelSpec.builder(model).ctxSize(256).parallel(8).build();
    BatchEngine engine = Resident.engine(spec);
    List<Long> rowRss = new ArrayList<>();
    Deque<CompletableFuture<Generation>> window = new ArrayDeque<>();
    long ok = 0, failed = 0, cancelled = 0;
    for (int i = 0; i < rows || !window.isEmpty(); ) {
      while (i < rows && window.size() < 32) {
        String prompt = i % 100 == 7 ? "" : "Row " + i + ": name one colour.";
        CompletableFuture<Generation> f =
            engine.submit(GenerationRequest.ofPrompt(prompt).maxTokens(4).rowKey("r" + i));
        if (i % 50 == 13) f.cancel(true);
        window.add(f);
        i++;
        if (i % 1000 == 0) rowRss.add(rssBytes());
      }
      Generation g = BatchEngine.await(window.poll());
      if (g.isOk()) ok++;
      else if (g.error().code() == dev.resident.ResidentException.Code.CANCELLED) cancelled++;
      else failed++;
    }
    List<Long> cycleRss = new ArrayList<>();
    ModelSpec small = spec.toBuilder().parallel(2).build();
    for (int c = 1; c <= cycles; c++) {
      try (Model m = Resident.loadPrivate(small);
          Predictor p = m.newPredictor();
          BatchEngine e = m.newBatchEngine(small)) {
        p.generate(GenerationRequest.ofPrompt("Cycle " + c).maxTokens(2));
        e.generate(GenerationRequest.ofPrompt("Cycle " + c).maxTokens(2));
      }
      if (c % 10 == 0) cycleRss.add(rssBytes());
    }
    System.out.printf(
        "{\"rows\": %d, \"ok\": %d, \"failed\": %d, \"cancelled\": %d, \"row_rss\": %s,"
            + " \"cycles\": %d, \"cycle_rss\": %s, \"engine\": %s}%n",
        rows, ok, failed, cancelled, rowRss, cycles, cycleRss, engine.stats());
  }
}
