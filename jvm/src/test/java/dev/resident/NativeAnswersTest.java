package dev.resident;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Json;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/**
 * Java reads the native side's answers strictly (issue 19, "Java reads native answers leniently"):
 * a missing or mistyped field, or an unknown status code, is an error that names it, never a silent
 * 0, "" or INTERNAL. No native code runs here.
 */
class NativeAnswersTest {
  private static final String GENERATION =
      "{\"text\": \"Paris\", \"prompt_tokens\": 7, \"completion_tokens\": 2,"
          + " \"finish_reason\": \"stop\", \"seed\": 42, \"prompt_seconds\": 0.01,"
          + " \"generation_seconds\": 0.02}";

  private static JsonNode json(String text) {
    return Json.read(text.getBytes(StandardCharsets.UTF_8));
  }

  private static ResidentException refused(String generation) {
    ResidentException e =
        assertThrows(ResidentException.class, () -> Generation.fromJson(json(generation)));
    assertEquals(ResidentException.Code.INTERNAL, e.code());
    return e;
  }

  @Test
  void aWholeGenerationReads() {
    Generation g = Generation.fromJson(json(GENERATION));
    assertTrue(g.isOk());
    assertEquals("Paris", g.text());
    assertEquals(7, g.promptTokens());
    assertEquals(2, g.completionTokens());
    assertEquals("stop", g.finishReason());
    assertEquals(42L, g.seed());
    // A seed is a uint64: the top half of its range reads as the long of the same bits.
    assertEquals(
        -1L, Generation.fromJson(json(GENERATION.replace("42", "18446744073709551615"))).seed());
    refused(GENERATION.replace("42", "-1"));
  }

  @Test
  void aRenamedOrMissingFieldIsAnErrorNamingIt() {
    ResidentException renamed =
        refused(GENERATION.replace("\"prompt_tokens\"", "\"prompt_token_count\""));
    assertTrue(renamed.getMessage().contains("'prompt_tokens'"), renamed::getMessage);
    ResidentException missing = refused(GENERATION.replace("\"seed\": 42,", ""));
    assertTrue(missing.getMessage().contains("'seed'"), missing::getMessage);
  }

  @Test
  void aMistypedFieldIsAnErrorNamingIt() {
    ResidentException text = refused(GENERATION.replace("7,", "\"7\","));
    assertTrue(text.getMessage().contains("prompt_tokens"), text::getMessage);
    assertTrue(text.getMessage().contains("not an int"), text::getMessage);
    ResidentException fraction = refused(GENERATION.replace("2,", "2.5,"));
    assertTrue(fraction.getMessage().contains("completion_tokens"), fraction::getMessage);
    ResidentException nul = refused(GENERATION.replace("\"Paris\"", "null"));
    assertTrue(nul.getMessage().contains("text"), nul::getMessage);
    ResidentException big = refused(GENERATION.replace("7,", "4294967296,"));
    assertTrue(big.getMessage().contains("prompt_tokens"), big::getMessage);
  }

  @Test
  void anUnknownStatusCodeIsAnErrorNamingIt() {
    Generation known =
        Generation.fromJson(json("{\"error\": {\"code\": \"not_found\", \"message\": \"gone\"}}"));
    assertEquals(ResidentException.Code.NOT_FOUND, known.error().code());
    assertTrue(known.error().getMessage().endsWith("gone"));

    ResidentException unknown =
        refused("{\"error\": {\"code\": \"aborted\", \"message\": \"stopped\"}}");
    assertTrue(unknown.getMessage().contains("unknown status code 'aborted'"), unknown::getMessage);
    assertTrue(unknown.getMessage().contains("stopped"), unknown::getMessage);
    ResidentException noCode = refused("{\"error\": {\"message\": \"stopped\"}}");
    assertTrue(noCode.getMessage().contains("'code'"), noCode::getMessage);
    refused("{\"error\": \"a string\"}");

    // An exception thrown by native code with a code Java does not know says so too.
    ResidentException thrown =
        new ResidentException("aborted", "stopped".getBytes(StandardCharsets.UTF_8));
    assertEquals(ResidentException.Code.INTERNAL, thrown.code());
    assertTrue(thrown.getMessage().contains("unknown status code 'aborted'"), thrown::getMessage);
    assertEquals(
        ResidentException.Code.CANCELLED, new ResidentException("cancelled", new byte[0]).code());
  }

  @Test
  void classificationsReadStrictlyToo() {
    Classification c =
        Classification.fromJson(
            json(
                "{\"top\": [{\"index\": 3, \"label\": \"tabby\", \"score\": 0.5}],"
                    + " \"width\": 64, \"height\": 48}"));
    assertEquals("tabby", c.label());
    assertEquals(64, c.width());
    ResidentException e =
        assertThrows(
            ResidentException.class,
            () ->
                Classification.fromJson(
                    json(
                        "{\"top\": [{\"index\": 3, \"name\": \"tabby\", \"score\": 0.5}],"
                            + " \"width\": 64, \"height\": 48}")));
    assertTrue(e.getMessage().contains("'label'"), e::getMessage);
  }

  /** A completion the Java side cannot read fails its own request, with the reason. */
  @Test
  void anUnreadableCompletionFailsItsRequest() {
    Generation g =
        Submissions.outcome(
            json("{\"ticket\": 5, \"result\": " + GENERATION.replace("\"text\"", "\"txt\"") + "}"));
    assertFalse(g.isOk());
    assertEquals(ResidentException.Code.INTERNAL, g.error().code());
    assertTrue(g.error().getMessage().contains("'text'"), g.error()::getMessage);
  }
}
