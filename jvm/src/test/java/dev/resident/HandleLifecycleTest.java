package dev.resident;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Closing handles while other threads use them (issue 19, "closing while in use is a
 * use-after-free"): a close cancels what the handle runs, waits for the calls inside to return,
 * then frees; every call returns a value or a ResidentException, never touches freed memory.
 */
class HandleLifecycleTest {
  private static final GenerationRequest LONG =
      GenerationRequest.ofPrompt("Count: 1, 2,").maxTokens(400).ignoreEos(true);

  /** A copy of the small model: a registry key no other test holds, so evict can free it. */
  private static ModelSpec ownSpec(Path dir) throws Exception {
    Path copy = dir.resolve("lifecycle.gguf");
    Files.copy(Paths.get(TestModels.small()), copy);
    return ModelSpec.builder(copy.toString()).ctxSize(512).threads(1).parallel(2).build();
  }

  @Test
  void closingABusyEngineCancelsItsRowsAndLaterCallsFailClearly(@TempDir Path dir)
      throws Exception {
    ModelSpec spec = ownSpec(dir).toBuilder().queueCapacity(1).build();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try (Model m = Resident.model(spec)) {
      BatchEngine e = m.newBatchEngine(spec);
      // Two rows run, one waits in the queue, the other threads wait inside the native call for
      // queue room when the close comes.
      List<Future<Object>> submitters = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        submitters.add(
            pool.submit(
                () -> {
                  try {
                    Optional<CompletableFuture<Generation>> f =
                        e.trySubmit(LONG, java.time.Duration.ofSeconds(60));
                    return f.isPresent() ? BatchEngine.await(f.get()) : "queue full";
                  } catch (ResidentException ex) {
                    return ex;
                  }
                }));
      }
      Thread.sleep(300);
      long start = System.nanoTime();
      e.close();
      assertTrue(
          System.nanoTime() - start < TimeUnit.SECONDS.toNanos(20), "close waited for the rows");
      for (Future<Object> f : submitters) {
        Object out = f.get(20, TimeUnit.SECONDS);
        if (out instanceof Generation g) {
          assertEquals(ResidentException.Code.CANCELLED, g.error().code(), () -> "" + g.text());
        } else if (out instanceof ResidentException ex) {
          assertEquals(ResidentException.Code.FAILED_PRECONDITION, ex.code(), ex::getMessage);
        } else {
          fail("unexpected outcome " + out);
        }
      }
      assertTrue(e.isClosed());
      ResidentException later =
          org.junit.jupiter.api.Assertions.assertThrows(ResidentException.class, e::stats);
      assertEquals(ResidentException.Code.FAILED_PRECONDITION, later.code());
      assertTrue(later.getMessage().contains("the batch engine is closed"), later::getMessage);
      e.close(); // idempotent
    } finally {
      pool.shutdownNow();
    }
    Resident.evict(spec);
  }

  @Test
  void closingAPredictorMidGenerationCancelsItAndWaits(@TempDir Path dir) throws Exception {
    ModelSpec spec = ownSpec(dir);
    try (Model m = Resident.model(spec)) {
      Predictor p = m.newPredictor();
      CompletableFuture<Generation> running = CompletableFuture.supplyAsync(() -> p.generate(LONG));
      Thread.sleep(200);
      p.close(); // cancels the generation and waits for it to leave native code
      Generation g = running.get(5, TimeUnit.SECONDS);
      assertEquals(ResidentException.Code.CANCELLED, g.error().code(), () -> "" + g.text());
      ResidentException later =
          org.junit.jupiter.api.Assertions.assertThrows(
              ResidentException.class, () -> p.generate(LONG));
      assertEquals(ResidentException.Code.FAILED_PRECONDITION, later.code());
    }
    Resident.evict(spec);
  }

  /**
   * Threads submit, predict and classify while others close predictors, evict the model and shut
   * Resident down, for a few seconds: no crash, no hang, and every call returns a value or a
   * ResidentException. Afterwards the same specs serve again.
   */
  @Test
  void closeEvictAndShutdownRaceWithCallsWithoutCrashing(@TempDir Path dir) throws Exception {
    ModelSpec text = ownSpec(dir);
    ModelSpec images =
        ModelSpec.builder(TestModels.efficientnet())
            .engine("onnx")
            .task("classify")
            .threads(1)
            .parallel(2)
            .build();
    byte[] grey = new byte[64 * 64];
    for (int i = 0; i < grey.length; i++) grey[i] = (byte) (i * 7);
    List<ImageInput> picture = List.of(ImageInput.ofPixels(grey, 64, 64, 1));
    GenerationRequest shortRow = GenerationRequest.ofPrompt("Name a color.").maxTokens(6);
    AtomicReference<Predictor> shared = new AtomicReference<>();
    AtomicLong answers = new AtomicLong();
    AtomicLong refusals = new AtomicLong();
    List<Throwable> unexpected = Collections.synchronizedList(new ArrayList<>());
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(6);

    List<Runnable> workers = new ArrayList<>();
    // Calls: each gives an answer (ok or failed) or a ResidentException.
    Runnable submit =
        () -> {
          Generation g = Resident.engine(text).generate(shortRow);
          if (g == null) throw new AssertionError("no generation");
        };
    Runnable predict =
        () -> {
          Predictor p = shared.get();
          if (p == null || p.isClosed()) {
            Predictor fresh;
            try (Model m = Resident.model(text)) {
              fresh = m.newPredictor();
            }
            if (!shared.compareAndSet(p, fresh)) fresh.close();
            p = shared.get();
          }
          if (p != null && p.generate(shortRow) == null) throw new AssertionError("no generation");
        };
    Runnable classify =
        () -> {
          List<Classification> c = Resident.classifyEngine(images).classify(picture, 3);
          if (c.size() != 1) throw new AssertionError("outcomes: " + c);
        };
    workers.add(submit);
    workers.add(submit);
    workers.add(predict);
    workers.add(classify);
    // Closers, at random moments.
    workers.add(
        () -> {
          sleepUpTo(400);
          Predictor p = shared.get();
          if (p != null) p.close();
          BatchEngine e = Resident.engine(text);
          if (ThreadLocalRandom.current().nextInt(4) == 0) e.close(); // "do not close it": safe
        });
    workers.add(
        () -> {
          sleepUpTo(700);
          Resident.evict(text);
        });
    workers.add(
        () -> {
          sleepUpTo(1500);
          Resident.shutdown();
        });

    ExecutorService pool = Executors.newFixedThreadPool(workers.size());
    List<Future<?>> running = new ArrayList<>();
    for (Runnable w : workers) {
      running.add(
          pool.submit(
              () -> {
                while (System.nanoTime() < end) {
                  try {
                    w.run();
                    answers.incrementAndGet();
                  } catch (ResidentException e) {
                    refusals.incrementAndGet();
                  } catch (Throwable t) {
                    unexpected.add(t);
                  }
                }
              }));
    }
    for (Future<?> f : running) f.get(60, TimeUnit.SECONDS); // a hang fails here
    pool.shutdown();
    assertTrue(
        unexpected.isEmpty(),
        () -> "calls failed otherwise than with a ResidentException: " + unexpected);
    assertTrue(answers.get() > 0, "nothing answered");
    Predictor last = shared.get();
    if (last != null) last.close();

    // Everything serves again after the storm.
    Generation g = Resident.engine(text).generate(shortRow);
    assertTrue(g.isOk(), () -> String.valueOf(g.error()));
    Classification c = Resident.classifyEngine(images).classify(picture, 1).get(0);
    assertTrue(c.isOk(), () -> String.valueOf(c.error()));
    try (Model m = Resident.model(text);
        Predictor p = m.newPredictor()) {
      assertFalse(p.generate(shortRow).text().isEmpty());
    }
    Resident.evict(text);
  }

  private static void sleepUpTo(long ms) {
    try {
      Thread.sleep(ThreadLocalRandom.current().nextLong(ms));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
