package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.resident.internal.Contract;
import dev.resident.internal.Json;
import java.io.Serializable;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * What to load and how to run it: the model (a catalog name or a .gguf path), the engine, the task,
 * and the options of the load and of each context. An immutable value, safe to share and to
 * serialize into Spark closures. Built with {@link #builder(String)}, in the spirit of DJL's
 * Criteria; the native engine validates it when it is used and names any bad field. A field left
 * unset takes the C++ core's default (model_spec.h), which is never restated here: only the fields
 * set cross to the engine.
 */
public final class ModelSpec implements Serializable {
  private static final long serialVersionUID = 2L;

  private final Map<String, Object> fields; // source first, then the fields set, by native name
  private transient JsonNode resolved; // every field, the core's defaults filled in

  private ModelSpec(Builder b) {
    Objects.requireNonNull(b.fields.get("source"), "model source");
    fields = new LinkedHashMap<>(b.fields);
  }

  /** A builder for the model at {@code source}: a catalog name or a path to a .gguf file. */
  public static Builder builder(String source) {
    return new Builder(source);
  }

  public Builder toBuilder() {
    Builder b = new Builder(source());
    b.fields.putAll(fields);
    return b;
  }

  public String source() {
    return (String) fields.get("source");
  }

  public int threads() {
    return (Integer) value("threads", JsonNode::asInt);
  }

  public int parallel() {
    return (Integer) value("parallel", JsonNode::asInt);
  }

  public int ctxSize() {
    return (Integer) value("ctx_size", JsonNode::asInt);
  }

  public long seed() {
    return (Long) value("seed", JsonNode::asLong);
  }

  /** The field's value: as set, else the core's default. */
  private Object value(String field, Function<JsonNode, Object> read) {
    Object v = fields.get(field);
    return v != null ? v : read.apply(Contract.specDefault(field));
  }

  /** The fields as the native engine reads them: the source and the fields set. */
  public Map<String, Object> toMap() {
    return new LinkedHashMap<>(fields);
  }

  /**
   * Every field as the core reads this spec: the fields set, the core's defaults for the rest. Two
   * specs are equal when these are, so a field set to its default and one left unset name the same
   * resident model (one engine, not two).
   */
  private JsonNode resolved() {
    JsonNode r = resolved;
    if (r == null) {
      ObjectNode all = (ObjectNode) Contract.specDefaults();
      for (Map.Entry<String, Object> f : fields.entrySet()) {
        all.set(f.getKey(), Json.mapper().valueToTree(f.getValue()));
      }
      r = Json.read(Json.write(all)); // one node type per value: 42 is 42 whether int or long
      resolved = r;
    }
    return r;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ModelSpec && ((ModelSpec) o).resolved().equals(resolved());
  }

  @Override
  public int hashCode() {
    return resolved().hashCode();
  }

  @Override
  public String toString() {
    return "ModelSpec" + fields;
  }

  /** Builds a {@link ModelSpec}. A field not set takes the C++ core's default. */
  public static final class Builder {
    private final Map<String, Object> fields = new LinkedHashMap<>();

    private Builder(String source) {
      fields.put("source", source);
    }

    /** The model: a catalog name or a path (replaces the builder's source). */
    public Builder source(String source) {
      fields.put("source", source);
      return this;
    }

    /** The engine: {@code llama} (language models) or {@code onnx} (image classifiers). */
    public Builder engine(String engine) {
      fields.put("engine", engine);
      return this;
    }

    /** {@code generate}, {@code embed}, or {@code classify} (engine onnx). */
    public Builder task(String task) {
      fields.put("task", task);
      return this;
    }

    /** Map the weights read-only, shared by every process on the node. */
    public Builder useMmap(boolean useMmap) {
      fields.put("use_mmap", useMmap);
      return this;
    }

    /**
     * Where the weights live: {@code shared} (served from the memory-mapped file, one copy per
     * node), {@code private} (repacked into the CPU backend's faster layouts, a copy per process)
     * or {@code auto} (private when it fits the memory budget and the node).
     */
    public Builder weights(String weights) {
      fields.put("weights", weights);
      return this;
    }

    /** {@code weights("private")} when true, {@code weights("shared")} when false. */
    public Builder repack(boolean repack) {
      return weights(repack ? "private" : "shared");
    }

    /**
     * KV cache cells per sequence; 0 sizes the cache to the rows: it starts small and grows to what
     * the longest row in flight needs (prompt + maxTokens), at most ctxSize.
     */
    public Builder kvTokens(int kvTokens) {
      fields.put("kv_tokens", kvTokens);
      return this;
    }

    /** Layers to offload to a GPU; -1 = all. */
    public Builder gpuLayers(int gpuLayers) {
      fields.put("gpu_layers", gpuLayers);
      return this;
    }

    /** Tokens of context per sequence. */
    public Builder ctxSize(int ctxSize) {
      fields.put("ctx_size", ctxSize);
      return this;
    }

    /** Compute threads per context; 0 = all cores. */
    public Builder threads(int threads) {
      fields.put("threads", threads);
      return this;
    }

    /** Tokens per decode call. */
    public Builder batchSize(int batchSize) {
      fields.put("batch_size", batchSize);
      return this;
    }

    /** Sequences in flight in a batch engine. */
    public Builder parallel(int parallel) {
      fields.put("parallel", parallel);
      return this;
    }

    /** Requests waiting for a slot; 0 = twice {@code parallel}. */
    public Builder queueCapacity(int queueCapacity) {
      fields.put("queue_capacity", queueCapacity);
      return this;
    }

    /**
     * {@code invariant} (a seeded row's text is the same whatever else is in flight) or {@code
     * fast} (fastest kernels; the text can change with the batch).
     */
    public Builder determinism(String determinism) {
      fields.put("determinism", determinism);
      return this;
    }

    /**
     * Whether a batch engine reuses the KV cells of a prompt prefix it has already decoded (a
     * shared system prompt or preamble) instead of decoding it again.
     */
    public Builder prefixReuse(boolean prefixReuse) {
      fields.put("prefix_reuse", prefixReuse);
      return this;
    }

    /** Seed of requests that carry neither a seed nor a row key. */
    public Builder seed(long seed) {
      fields.put("seed", seed);
      return this;
    }

    /** Refuse to load above this estimate; 0 = what the machine has. */
    public Builder memoryLimitBytes(long memoryLimitBytes) {
      fields.put("memory_limit_bytes", memoryLimitBytes);
      return this;
    }

    public ModelSpec build() {
      return new ModelSpec(this);
    }
  }
}
