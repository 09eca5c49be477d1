package dev.resident;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The JNI round trip on the real small model: no Spark. */
class NativeApiTest {
  private static ModelSpec spec() {
    return ModelSpec.builder(TestModels.small()).threads(2).ctxSize(512).parallel(4).build();
  }

  @Test
  void versionNamesThePinnedLlamaCpp() {
    JsonNode v = Resident.version();
    assertFalse(v.path("llama_cpp").asText().isEmpty());
    assertEquals(40, v.path("llama_cpp_commit").asText().length());
  }

  @Test
  void predictorGeneratesAndCountsTokens() {
    try (Model m = Resident.model(spec());
        Predictor p = m.newPredictor()) {
      Generation g =
          p.generate(GenerationRequest.ofPrompt("The capital of France is").maxTokens(8));
      assertTrue(g.isOk(), () -> String.valueOf(g.error()));
      assertTrue(g.completionTokens() > 0 && g.completionTokens() <= 8);
      assertTrue(g.promptTokens() > 0);
      assertFalse(g.text().isEmpty());
      // Greedy decoding repeats itself exactly.
      assertEquals(
          g.text(),
          p.generate(GenerationRequest.ofPrompt("The capital of France is").maxTokens(8)).text());
      assertEquals("Q4_1", m.info().path("info").path("quantization").asText());
    }
  }

  @Test
  void badRowsFailAloneInABatch() {
    BatchEngine e = Resident.engine(spec());
    List<GenerationRequest> rs =
        List.of(
            GenerationRequest.ofPrompt("Hello").maxTokens(4),
            GenerationRequest.ofPrompt("").maxTokens(4),
            GenerationRequest.ofPrompt("word ".repeat(2000)).maxTokens(4),
            GenerationRequest.ofPrompt("Bonjour").maxTokens(4));
    List<Generation> out = e.generate(rs);
    assertEquals(4, out.size());
    assertTrue(out.get(0).isOk());
    assertEquals(ResidentException.Code.INVALID_ARGUMENT, out.get(1).error().code());
    assertEquals(ResidentException.Code.INVALID_ARGUMENT, out.get(2).error().code());
    assertTrue(out.get(2).error().getMessage().contains("context"), out.get(2).error()::getMessage);
    assertTrue(out.get(3).isOk());
  }

  @Test
  void submitIsAsynchronousAndCancellingAFutureStopsItsRow() throws Exception {
    ModelSpec s = spec().toBuilder().parallel(2).build();
    BatchEngine e = Resident.engine(s);
    // Dependent stages compose as with any CompletableFuture.
    String text =
        e.submit(GenerationRequest.ofPrompt("The capital of France is").maxTokens(4))
            .thenApply(Generation::textOrThrow)
            .get(60, TimeUnit.SECONDS);
    assertFalse(text.isEmpty());

    long cancelledBefore = e.stats().path("cancelled").asLong();
    List<CompletableFuture<Generation>> slow = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      slow.add(e.submit(GenerationRequest.ofPrompt("Count: 1, 2,").maxTokens(400).ignoreEos(true)));
    }
    Thread.sleep(100);
    for (CompletableFuture<Generation> f : slow) assertTrue(f.cancel(true));
    assertEquals(ResidentException.Code.CANCELLED, BatchEngine.await(slow.get(0)).error().code());
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (e.stats().path("cancelled").asLong() - cancelledBefore < 4) {
      assertTrue(System.nanoTime() < deadline, () -> "not all cancelled: " + e.stats());
      Thread.sleep(10);
    }
    // The slots are free for the next rows at once.
    Generation next = e.generate(GenerationRequest.ofPrompt("Bonjour").maxTokens(4));
    assertTrue(next.isOk(), () -> String.valueOf(next.error()));

    Generation late =
        e.generate(
            GenerationRequest.ofPrompt("Count: 1, 2,")
                .maxTokens(400)
                .ignoreEos(true)
                .timeoutSeconds(0.05));
    assertEquals(ResidentException.Code.DEADLINE_EXCEEDED, late.error().code());
  }

  @Test
  void aPredictorsGenerationStopsWhenAnotherThreadCancelsIt() throws Exception {
    try (Model m = Resident.model(spec());
        Predictor p = m.newPredictor()) {
      CompletableFuture<Generation> running =
          CompletableFuture.supplyAsync(
              () ->
                  p.generate(
                      GenerationRequest.ofPrompt("Count: 1, 2,").maxTokens(450).ignoreEos(true)));
      Thread.sleep(150);
      p.cancel();
      Generation g = running.get(60, TimeUnit.SECONDS);
      assertEquals(ResidentException.Code.CANCELLED, g.error().code(), () -> "" + g.text());
    }
  }

  @Test
  void evictFreesAnIdleModelAndRefusesOneInUse(@TempDir Path dir) throws Exception {
    // A file no other test uses: a model of its own in the registry.
    Path copy = dir.resolve("evictable.gguf");
    Files.copy(Paths.get(Resident.resolve(spec().source())), copy);
    ModelSpec s = ModelSpec.builder(copy.toString()).ctxSize(256).threads(2).build();
    long before = Resident.loads();
    Model m = Resident.model(s);
    ResidentException inUse = assertThrows(ResidentException.class, () -> Resident.evict(s));
    assertEquals(ResidentException.Code.FAILED_PRECONDITION, inUse.code());
    m.close();
    Resident.evict(s);
    long evictions = Resident.stats().path("evictions").asLong();
    assertTrue(evictions >= 1, () -> "evictions " + evictions);
    assertEquals(
        ResidentException.Code.NOT_FOUND,
        assertThrows(ResidentException.class, () -> Resident.evict(s)).code());
    try (Model again = Resident.model(s)) {
      assertEquals(before + 2, Resident.loads()); // evicted models load again on demand
    }
    Resident.evict(s);
  }

  @Test
  void manyThreadsShareOneEngineAndOneLoad() throws Exception {
    // A load option no other test uses: a key of its own in the registry.
    ModelSpec s = spec().toBuilder().useMmap(false).build();
    long before = Resident.stats().path("process_loads").asLong();
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<String>> fs = new ArrayList<>();
    for (int i = 0; i < threads; i++) {
      int n = i;
      fs.add(
          pool.submit(
              () -> {
                go.await();
                BatchEngine e = Resident.engine(s);
                return e.generate(GenerationRequest.ofPrompt("Count: " + n).maxTokens(4))
                    .textOrThrow();
              }));
    }
    go.countDown();
    for (Future<String> f : fs) assertFalse(f.get().isEmpty());
    pool.shutdown();
    assertEquals(1, Resident.stats().path("process_loads").asLong() - before);
  }

  @Test
  void missingAndCorruptModelsGiveClearErrors(@TempDir Path dir) throws Exception {
    ResidentException missing =
        assertThrows(
            ResidentException.class,
            () -> Resident.model(ModelSpec.builder(dir.resolve("nope.gguf").toString()).build()));
    assertEquals(ResidentException.Code.NOT_FOUND, missing.code());
    assertTrue(missing.getMessage().contains("nope.gguf"), missing::getMessage);

    Path corrupt = TestModels.corrupt(dir);
    ResidentException bad =
        assertThrows(
            ResidentException.class,
            () -> Resident.model(ModelSpec.builder(corrupt.toString()).build()));
    assertEquals(ResidentException.Code.DATA_LOSS, bad.code());
    assertTrue(bad.getMessage().contains("corrupt.gguf"), bad::getMessage);

    ResidentException spec =
        assertThrows(
            ResidentException.class, () -> Resident.model(spec().toBuilder().ctxSize(-3).build()));
    assertEquals(ResidentException.Code.INVALID_ARGUMENT, spec.code());
    assertTrue(spec.getMessage().contains("ctx_size"), spec::getMessage);
  }

  @Test
  void aClosedHandleIsAnErrorNotACrash() {
    Model m = Resident.model(spec());
    Predictor p = m.newPredictor();
    p.close();
    p.close(); // idempotent
    ResidentException e =
        assertThrows(ResidentException.class, () -> p.generate(GenerationRequest.ofPrompt("x")));
    assertEquals(ResidentException.Code.FAILED_PRECONDITION, e.code());
    m.close();
    assertThrows(ResidentException.class, m::newPredictor);
  }

  @Test
  void invalidUtf8AndChatMessagesAreHandled() {
    try (Model m = Resident.model(spec());
        Predictor p = m.newPredictor()) {
      // A lone surrogate has no UTF-8 form: that row fails alone, with a reason.
      Generation g = p.generate(GenerationRequest.ofPrompt("Hi \ud800 there").maxTokens(4));
      assertEquals(ResidentException.Code.INVALID_ARGUMENT, g.error().code());
      assertTrue(g.error().getMessage().contains("surrogate"), g.error()::getMessage);
      List<Generation> batch =
          Resident.engine(spec())
              .generate(
                  List.of(
                      GenerationRequest.ofPrompt("\udc00").maxTokens(2),
                      GenerationRequest.ofPrompt("Hello").maxTokens(2)));
      assertFalse(batch.get(0).isOk());
      assertTrue(batch.get(1).isOk(), () -> String.valueOf(batch.get(1).error()));
      Generation chat =
          p.generate(
              GenerationRequest.ofMessages(List.of(new ChatMessage("user", "Say hi")))
                  .systemPrompt("You are brief.")
                  .maxTokens(6));
      assertTrue(chat.isOk(), () -> String.valueOf(chat.error()));
    }
  }

  @Test
  void rowsFollowTheCoresContract() {
    try (Model m = Resident.model(spec());
        Predictor p = m.newPredictor()) {
      // A message without its content is the row's error, named by the core.
      Generation broken =
          p.generate(
              GenerationRequest.ofMessages(
                      List.of(new ChatMessage("user", "a"), new ChatMessage("user", null)))
                  .maxTokens(2));
      assertEquals(ResidentException.Code.INVALID_ARGUMENT, broken.error().code());
      assertTrue(
          broken.error().getMessage().contains("chat message 2 of the row lacks its content"),
          broken.error()::getMessage);
      // The same id seeds the same text whatever the prompt's position; the template applies.
      GenerationRequest rules =
          GenerationRequest.rules().maxTokens(6).temperature(0.8f).promptTemplate("Q: {prompt}");
      String a = p.generate(rules.forRow("Name a color.", null, "5")).text();
      String b = p.generate(rules.forRow("Name a color.", null, "5")).text();
      assertEquals(a, b);
      Generation templated =
          p.generate(GenerationRequest.ofPrompt("x").promptTemplate("no placeholder"));
      assertTrue(
          templated.error().getMessage().contains("prompt_template"),
          templated.error()::getMessage);
    }
  }

  @Test
  void onlyTheSettingsAUserSetCrossAndTheCoreKeepsTheRules() {
    assertEquals(
        java.util.Map.of("source", "m"), ModelSpec.builder("m").build().toMap(), "spec defaults");
    assertEquals(
        java.util.Map.of("prompt", "p"), GenerationRequest.ofPrompt("p").toMap(), "request");
    // Unset fields read the core's defaults.
    assertEquals(2048, ModelSpec.builder("m").build().ctxSize());
    assertEquals(42L, ModelSpec.builder("m").build().seed());
    // Retryability is the core's rule (internal included), the same for every front end.
    assertTrue(new ResidentException(ResidentException.Code.INTERNAL, "x").isRetryable());
    assertTrue(new ResidentException(ResidentException.Code.UNAVAILABLE, "x").isRetryable());
    assertFalse(new ResidentException(ResidentException.Code.INVALID_ARGUMENT, "x").isRetryable());
    assertFalse(new ResidentException(ResidentException.Code.CANCELLED, "x").isRetryable());
  }
}
