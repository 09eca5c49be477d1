package dev.resident;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One prompt and how to sample its completion. Defaults are deterministic (greedy). A request with
 * a seed, or with a row key from which the engine derives one, yields the same text every time.
 * Mutable builder-style setters; not thread-safe until handed over.
 */
public final class GenerationRequest implements Serializable {
  private static final long serialVersionUID = 1L;

  private String prompt;
  private List<ChatMessage> messages;
  private String systemPrompt;
  private String rowKey;
  private int maxTokens = 128;
  private float temperature = 0f;
  private int topK = 40;
  private float topP = 0.95f;
  private float minP = 0.05f;
  private Long seed;
  private List<String> stop = new ArrayList<>();
  private boolean ignoreEos;
  private double timeoutSeconds;

  /** A raw prompt, tokenized as is. */
  public static GenerationRequest ofPrompt(String prompt) {
    GenerationRequest r = new GenerationRequest();
    r.prompt = prompt;
    return r;
  }

  /** Chat messages, rendered with the model's chat template. */
  public static GenerationRequest ofMessages(List<ChatMessage> messages) {
    GenerationRequest r = new GenerationRequest();
    r.messages = new ArrayList<>(messages);
    return r;
  }

  /** Prepends a system message (turns a raw prompt into a one-message chat). */
  public GenerationRequest systemPrompt(String systemPrompt) {
    this.systemPrompt = systemPrompt;
    return this;
  }

  /** A stable key of the input row; seeds the sampler when no seed is set. */
  public GenerationRequest rowKey(String rowKey) {
    this.rowKey = rowKey;
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
    for (int i = 0; why == null && messages != null && i < messages.size(); i++) {
      why = unpaired("chat message " + i, messages.get(i).content());
      if (why == null) why = unpaired("chat message " + i + " role", messages.get(i).role());
    }
    for (int i = 0; why == null && i < stop.size(); i++) why = unpaired("stop string", stop.get(i));
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

  /** The fields as the native engine reads them. */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    if (messages != null) {
      List<Map<String, String>> ms = new ArrayList<>();
      for (ChatMessage c : messages) ms.add(Map.of("role", c.role(), "content", c.content()));
      m.put("messages", ms);
    } else {
      m.put("prompt", prompt);
    }
    if (systemPrompt != null) m.put("system_prompt", systemPrompt);
    if (rowKey != null) m.put("row_key", rowKey);
    m.put("max_tokens", maxTokens);
    m.put("temperature", temperature);
    m.put("top_k", topK);
    m.put("top_p", topP);
    m.put("min_p", minP);
    if (seed != null) m.put("seed", seed);
    if (!stop.isEmpty()) m.put("stop", stop);
    if (ignoreEos) m.put("ignore_eos", true);
    if (timeoutSeconds != 0) m.put("timeout_seconds", timeoutSeconds);
    return m;
  }
}
