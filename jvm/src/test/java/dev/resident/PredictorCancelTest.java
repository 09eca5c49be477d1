package dev.resident;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A cancel stops a predictor's row whenever it comes while the row is in {@link Predictor#generate}
 * (issue 19, "a cancelled task can run on"): before the native call has started, while it decodes,
 * and not at all once it has returned.
 */
class PredictorCancelTest {
  private static final GenerationRequest LONG =
      GenerationRequest.ofPrompt("Count: 1, 2,").maxTokens(400).ignoreEos(true);

  private static ModelSpec spec() {
    return ModelSpec.builder(TestModels.small()).threads(2).ctxSize(512).parallel(1).build();
  }

  /** The window that lost cancels: the ticket published, the native call not yet started. */
  @Test
  void aCancelBeforeTheNativeCallStartsStopsTheRow() {
    try (Model m = Resident.model(spec());
        Predictor p = m.newPredictor()) {
      Predictor.afterPublish = p::cancel;
      Generation g;
      try {
        g = p.generate(LONG);
      } finally {
        Predictor.afterPublish = null;
      }
      assertEquals(ResidentException.Code.CANCELLED, g.error().code(), () -> "ran: " + g.text());
    }
  }

  @Test
  void aCancelWhileDecodingStopsTheRow() throws Exception {
    try (Model m = Resident.model(spec());
        Predictor p = m.newPredictor()) {
      CompletableFuture<Generation> running = CompletableFuture.supplyAsync(() -> p.generate(LONG));
      Thread.sleep(150);
      p.cancel();
      Generation g = running.get(30, TimeUnit.SECONDS);
      assertEquals(ResidentException.Code.CANCELLED, g.error().code(), () -> "ran: " + g.text());
    }
  }

  /** A cancel after the row returned, or on an idle predictor, leaves the next row alone. */
  @Test
  void aCancelAfterTheRowEndedDoesNotReachTheNextRow() {
    try (Model m = Resident.model(spec());
        Predictor p = m.newPredictor()) {
      GenerationRequest shortRow = GenerationRequest.ofPrompt("Name a color.").maxTokens(4);
      assertTrue(p.generate(shortRow).isOk());
      p.cancel();
      Generation next = p.generate(shortRow);
      assertTrue(next.isOk(), () -> String.valueOf(next.error()));
    }
  }

  /** stop() is sticky: a row that starts after it (a killed task's next row) never decodes. */
  @Test
  void aStopBeforeTheRowStartsStopsItAndEveryLaterRow() {
    try (Model m = Resident.model(spec());
        Predictor p = m.newPredictor()) {
      p.stop();
      for (int i = 0; i < 2; i++) {
        long start = System.nanoTime();
        Generation g = p.generate(LONG);
        assertEquals(ResidentException.Code.CANCELLED, g.error().code(), () -> "ran: " + g.text());
        assertTrue(System.nanoTime() - start < TimeUnit.SECONDS.toNanos(5), "it decoded");
      }
    }
  }
}
