package dev.resident;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One row and how to turn it into a generation: its prompt (text or chat messages) and id, and the
 * job's rules (template, system prompt, chat, sampling). The C++ core's row contract builds the
 * request from these (docs/rows.md), as it does for the command line's rows, so a row gives the
 * same text from every front end. A setting left unset takes the core's default: greedy decoding,
 * and a row seeded from its id (else its prompt) and the model's base seed. Mutable builder-style
 * setters; not thread-safe until handed over.
 */
public final class GenerationRequest implements Serializable {
  private static final long serialVersionUID = 2L;

  private String prompt;
  private List<ChatMessage> messages;
  private Object id; // text, a number or a boolean: the core writes it as the contract says
  private String rowKey;
  private String promptTemplate;
  private String systemPrompt;
  private Boolean chat;
  private Integer maxTokens;
  private Float temperature;
  private Integer topK;
  private Float topP;
  private Float minP;
  private Long seed;
  private List<String> stop;
  private Boolean ignoreEos;
  private Double timeoutSeconds;

  /** A request with no prompt yet: a job's rules, copied for each row by {@link #forRow}. */
  public static GenerationRequest rules() {
    return new GenerationRequest();
  }

  /** A raw prompt (templated, or rendered as a chat, when the rules say so). */
  public static GenerationRequest ofPrompt(String prompt) {
    GenerationRequest r = new GenerationRequest();
    r.prompt = prompt;
    return r;
  }

  /**
   * Chat messages, rendered with the model's chat template. A message with a null role or content
   * fails the row with an error naming the message.
   */
  public static GenerationRequest ofMessages(List<ChatMessage> messages) {
    GenerationRequest r = new GenerationRequest();
    r.messages = new ArrayList<>(messages);
    return r;
  }

  /**
   * A copy of these rules for one row: its text prompt or its messages (null for a row without a
   * prompt, which then fails with an error saying so) and its id (null when it has none).
   */
  public GenerationRequest forRow(String prompt, List<ChatMessage> messages, Object id) {
    if (id != null && !(id instanceof String || id instanceof Number || id instanceof Boolean)) {
      throw new IllegalArgumentException("a row id is text, a number or a boolean, not " + id);
    }
    GenerationRequest r = copy();
    r.prompt = prompt;
    r.messages = messages == null ? null : new ArrayList<>(messages);
    r.id = id;
    return r;
  }

  private GenerationRequest copy() {
    GenerationRequest r = new GenerationRequest();
    r.prompt = prompt;
    r.messages = messages == null ? null : new ArrayList<>(messages);
    r.id = id;
    r.rowKey = rowKey;
    r.promptTemplate = promptTemplate;
    r.systemPrompt = systemPrompt;
    r.chat = chat;
    r.maxTokens = maxTokens;
    r.temperature = temperature;
    r.topK = topK;
    r.topP = topP;
    r.minP = minP;
    r.seed = seed;
    r.stop = stop == null ? null : new ArrayList<>(stop);
    r.ignoreEos = ignoreEos;
    r.timeoutSeconds = timeoutSeconds;
    return r;
  }

  /**
   * The row's id (an integer written in decimal, or text as it is): seeds the row's sampler, so the
   * row gives the same text wherever it runs. Without one the row's prompt seeds it.
   */
  public GenerationRequest id(String id) {
    this.id = id;
    return this;
  }

  /** A numeric row id, written as JSON writes it (7, 7.0), as a CLI row's id would be. */
  public GenerationRequest id(Number id) {
    this.id = id;
    return this;
  }

  /** A key of the caller's own, used as it is to seed the sampler (instead of an id). */
  public GenerationRequest rowKey(String rowKey) {
    this.rowKey = rowKey;
    return this;
  }

  /** Wraps a text prompt: {@code {prompt}} is replaced by it. Chats are not templated. */
  public GenerationRequest promptTemplate(String promptTemplate) {
    this.promptTemplate = promptTemplate;
    return this;
  }

  /** Puts a system message first (renders a text prompt as a one-message chat). */
  public GenerationRequest systemPrompt(String systemPrompt) {
    this.systemPrompt = systemPrompt;
    return this;
  }

  /** Renders a text prompt with the model's chat template, as one user message. */
  public GenerationRequest chat(boolean chat) {
    this.chat = chat;
    return this;
  }

  public GenerationRequest maxTokens(int maxTokens) {
    this.maxTokens = maxTokens;
    return this;
  }

  /** 0 = greedy. */
  public GenerationRequest temperature(float temperature) {
    this.temperature = temperature;
    return this;
  }

  public GenerationRequest topK(int topK) {
    this.topK = topK;
    return this;
  }

  public GenerationRequest topP(float topP) {
    this.topP = topP;
    return this;
  }

  public GenerationRequest minP(float minP) {
    this.minP = minP;
    return this;
  }

  /** This request's own seed, used as it is (instead of one derived from the row). */
  public GenerationRequest seed(Long seed) {
    this.seed = seed;
    return this;
  }

  /** Generation ends before the first match of any of these. */
  public GenerationRequest stop(List<String> stop) {
    this.stop = new ArrayList<>(stop);
    return this;
  }

  /** Keep generating past end-of-sequence (benchmarks). */
  public GenerationRequest ignoreEos(boolean ignoreEos) {
    this.ignoreEos = ignoreEos;
    return this;
  }

  /**
   * A deadline: the request fails with DEADLINE_EXCEEDED once this many seconds have passed since
   * it was submitted (time queued included). 0 = none.
   */
  public GenerationRequest timeoutSeconds(double timeoutSeconds) {
    this.timeoutSeconds = timeoutSeconds;
    return this;
  }

  /**
   * Why this request's text cannot be sent (an unpaired UTF-16 surrogate has no UTF-8 form), or
   * null when it can.
   */
  public String invalidText() {
    String why = unpaired("prompt", prompt);
    if (why == null) why = unpaired("system prompt", systemPrompt);
    if (why == null) why = unpaired("row key", rowKey);
    if (why == null && id instanceof String) why = unpaired("id", (String) id);
    if (why == null) why = unpaired("prompt template", promptTemplate);
    for (int i = 0; why == null && messages != null && i < messages.size(); i++) {
      why = unpaired("chat message " + i, messages.get(i).content());
      if (why == null) why = unpaired("chat message " + i + " role", messages.get(i).role());
    }
    for (int i = 0; why == null && stop != null && i < stop.size(); i++) {
      why = unpaired("stop string", stop.get(i));
    }
    return why;
  }

  private static String unpaired(String what, String s) {
    if (s == null) return null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)
          && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        return what
            + " is not valid Unicode: an unpaired surrogate at index "
            + i
            + "; fix or drop the character";
      }
    }
    return null;
  }

  /** The fields as the native engine reads them: only those set here. */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    if (messages != null) {
      List<Map<String, String>> ms = new ArrayList<>();
      for (ChatMessage c : messages) {
        Map<String, String> one = new LinkedHashMap<>(); // a role or content may be null
        one.put("role", c.role());
        one.put("content", c.content());
        ms.add(one);
      }
      m.put("messages", ms);
    } else if (prompt != null) {
      m.put("prompt", prompt);
    }
    put(m, "id", id);
    put(m, "row_key", rowKey);
    put(m, "prompt_template", promptTemplate);
    put(m, "system_prompt", systemPrompt);
    put(m, "chat", chat);
    put(m, "max_tokens", maxTokens);
    put(m, "temperature", temperature);
    put(m, "top_k", topK);
    put(m, "top_p", topP);
    put(m, "min_p", minP);
    put(m, "seed", seed);
    put(m, "stop", stop);
    put(m, "ignore_eos", ignoreEos);
    put(m, "timeout_seconds", timeoutSeconds);
    return m;
  }

  private static void put(Map<String, Object> m, String key, Object value) {
    if (value != null) m.put(key, value);
  }
}
