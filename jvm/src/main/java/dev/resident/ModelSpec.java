package dev.resident;

import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * What to load and how to run it: the model (a catalog name or a .gguf path), the engine, the task,
 * and the options of the load and of each context. An immutable value, safe to share and to
 * serialize into Spark closures. Built with {@link #builder(String)}, in the spirit of DJL's
 * Criteria; the native engine validates it when it is used and names any bad field.
 */
public final class ModelSpec implements Serializable {
  private static final long serialVersionUID = 1L;

  private final String source;
  private final String engine;
  private final String task;
  private final boolean useMmap;
  private final String weights;
  private final int kvTokens;
  private final int gpuLayers;
  private final int ctxSize;
  private final int threads;
  private final int batchSize;
  private final int parallel;
  private final int queueCapacity;
  private final String determinism;
  private final boolean prefixReuse;
  private final long seed;
  private final long memoryLimitBytes;

  private ModelSpec(Builder b) {
    source = Objects.requireNonNull(b.source, "model source");
    engine = b.engine;
    task = b.task;
    useMmap = b.useMmap;
    weights = b.weights;
    kvTokens = b.kvTokens;
    gpuLayers = b.gpuLayers;
    ctxSize = b.ctxSize;
    threads = b.threads;
    batchSize = b.batchSize;
    parallel = b.parallel;
    queueCapacity = b.queueCapacity;
    determinism = b.determinism;
    prefixReuse = b.prefixReuse;
    seed = b.seed;
    memoryLimitBytes = b.memoryLimitBytes;
  }

  /** A builder for the model at {@code source}: a catalog name or a path to a .gguf file. */
  public static Builder builder(String source) {
    return new Builder(source);
  }

  public Builder toBuilder() {
    Builder b = new Builder(source);
    b.engine = engine;
    b.task = task;
    b.useMmap = useMmap;
    b.weights = weights;
    b.kvTokens = kvTokens;
    b.gpuLayers = gpuLayers;
    b.ctxSize = ctxSize;
    b.threads = threads;
    b.batchSize = batchSize;
    b.parallel = parallel;
    b.queueCapacity = queueCapacity;
    b.determinism = determinism;
    b.prefixReuse = prefixReuse;
    b.seed = seed;
    b.memoryLimitBytes = memoryLimitBytes;
    return b;
  }

  public String source() {
    return source;
  }

  public int threads() {
    return threads;
  }

  public int parallel() {
    return parallel;
  }

  public int ctxSize() {
    return ctxSize;
  }

  public long seed() {
    return seed;
  }

  /** The fields as the native engine reads them. */
  public Map<String, Object> toMap() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("source", source);
    m.put("engine", engine);
    m.put("task", task);
    m.put("use_mmap", useMmap);
    m.put("weights", weights);
    m.put("kv_tokens", kvTokens);
    m.put("gpu_layers", gpuLayers);
    m.put("ctx_size", ctxSize);
    m.put("threads", threads);
    m.put("batch_size", batchSize);
    m.put("parallel", parallel);
    m.put("queue_capacity", queueCapacity);
    m.put("determinism", determinism);
    m.put("prefix_reuse", prefixReuse);
    m.put("seed", seed);
    m.put("memory_limit_bytes", memoryLimitBytes);
    return m;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ModelSpec && ((ModelSpec) o).toMap().equals(toMap());
  }

  @Override
  public int hashCode() {
    return toMap().hashCode();
  }

  @Override
  public String toString() {
    return "ModelSpec" + toMap();
  }

  /** Builds a {@link ModelSpec}. Defaults are those of the C++ core (model_spec.h). */
  public static final class Builder {
    private final String source;
    private String engine = "llama";
    private String task = "generate";
    private boolean useMmap = true;
    private String weights = "auto";
    private int kvTokens = 0;
    private int gpuLayers = 0;
    private int ctxSize = 2048;
    private int threads = 0;
    private int batchSize = 512;
    private int parallel = 8;
    private int queueCapacity = 0;
    private String determinism = "invariant";
    private boolean prefixReuse = true;
    private long seed = 42;
    private long memoryLimitBytes = 0;

    private Builder(String source) {
      this.source = source;
    }

    /** The engine: {@code llama} (language models) or {@code onnx} (image classifiers). */
    public Builder engine(String engine) {
      this.engine = engine;
      return this;
    }

    /** {@code generate} (default), {@code embed}, or {@code classify} (engine onnx). */
    public Builder task(String task) {
      this.task = task;
      return this;
    }

    /** Map the weights read-only, shared by every process on the node (default true). */
    public Builder useMmap(boolean useMmap) {
      this.useMmap = useMmap;
      return this;
    }

    /**
     * Where the weights live: {@code shared} (served from the memory-mapped file, one copy per
     * node), {@code private} (repacked into the CPU backend's faster layouts, a copy per process)
     * or {@code auto} (default: private when it fits the memory budget and the node).
     */
    public Builder weights(String weights) {
      this.weights = weights;
      return this;
    }

    /** {@code weights("private")} when true, {@code weights("shared")} when false. */
    public Builder repack(boolean repack) {
      return weights(repack ? "private" : "shared");
    }

    /**
     * KV cache cells per sequence; 0 (default) sizes the cache to the rows: it starts small and
     * grows to what the longest row in flight needs (prompt + maxTokens), at most ctxSize.
     */
    public Builder kvTokens(int kvTokens) {
      this.kvTokens = kvTokens;
      return this;
    }

    /** Layers to offload to a GPU; -1 = all (default 0). */
    public Builder gpuLayers(int gpuLayers) {
      this.gpuLayers = gpuLayers;
      return this;
    }

    /** Tokens of context per sequence (default 2048). */
    public Builder ctxSize(int ctxSize) {
      this.ctxSize = ctxSize;
      return this;
    }

    /** Compute threads per context; 0 = all cores (default 0). */
    public Builder threads(int threads) {
      this.threads = threads;
      return this;
    }

    /** Tokens per decode call (default 512). */
    public Builder batchSize(int batchSize) {
      this.batchSize = batchSize;
      return this;
    }

    /** Sequences in flight in a batch engine (default 8). */
    public Builder parallel(int parallel) {
      this.parallel = parallel;
      return this;
    }

    /** Requests waiting for a slot; 0 = twice {@code parallel} (default 0). */
    public Builder queueCapacity(int queueCapacity) {
      this.queueCapacity = queueCapacity;
      return this;
    }

    /**
     * {@code invariant} (default: a seeded row's text is the same whatever else is in flight) or
     * {@code fast} (fastest kernels; the text can change with the batch).
     */
    public Builder determinism(String determinism) {
      this.determinism = determinism;
      return this;
    }

    /**
     * Whether a batch engine reuses the KV cells of a prompt prefix it has already decoded (a
     * shared system prompt or preamble) instead of decoding it again (default true; batched mode).
     */
    public Builder prefixReuse(boolean prefixReuse) {
      this.prefixReuse = prefixReuse;
      return this;
    }

    /** Seed of requests that carry neither a seed nor a row key (default 42). */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    /** Refuse to load above this estimate; 0 = what the machine has (default 0). */
    public Builder memoryLimitBytes(long memoryLimitBytes) {
      this.memoryLimitBytes = memoryLimitBytes;
      return this;
    }

    public ModelSpec build() {
      return new ModelSpec(this);
    }
  }
}
