package dev.resident.spark;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.BatchEngine;
import dev.resident.ChatMessage;
import dev.resident.Generation;
import dev.resident.GenerationRequest;
import dev.resident.Model;
import dev.resident.ModelSpec;
import dev.resident.Predictor;
import dev.resident.Resident;
import dev.resident.ResidentException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.TaskCompletionListener;

/**
 * The work of one task: takes its partition's rows in chunks, serves each chunk by the job's
 * strategy, and yields every input row, in order, with its completion or its error.
 */
final class PartitionGenerator implements MapPartitionsFunction<Row, Row> {
  private static final long serialVersionUID = 1L;

  private final GeneratorSettings settings;
  private final JobMetrics metrics;

  PartitionGenerator(GeneratorSettings settings, JobMetrics metrics) {
    this.settings = settings;
    this.metrics = metrics;
  }

  /** Serves lists of requests; one per task. */
  private interface Serving extends AutoCloseable {
    List<Generation> generate(List<GenerationRequest> requests);

    @Override
    void close();
  }

  private static Serving batched(BatchEngine engine) {
    return new Serving() {
      @Override
      public List<Generation> generate(List<GenerationRequest> requests) {
        return engine.generate(requests);
      }

      @Override
      public void close() {
        // The engine is the executor's, not this task's.
      }
    };
  }

  private static Serving predicting(Predictor predictor, Model privateModel) {
    return new Serving() {
      @Override
      public List<Generation> generate(List<GenerationRequest> requests) {
        List<Generation> out = new ArrayList<>(requests.size());
        for (GenerationRequest r : requests) out.add(predictor.generate(r));
        return out;
      }

      @Override
      public void close() {
        predictor.close();
        if (privateModel != null) privateModel.close();
      }
    };
  }

  private Serving open(ModelSpec spec) {
    switch (settings.strategy) {
      case SHARED_BATCHED:
        return batched(ExecutorModels.engine(spec));
      case SHARED:
        return predicting(ExecutorModels.model(spec).newPredictor(spec), null);
      case PER_PARTITION:
      default:
        Model m = ExecutorModels.privateModel(spec);
        try {
          return predicting(m.newPredictor(spec), m);
        } catch (RuntimeException e) {
          m.close();
          throw e;
        }
    }
  }

  @Override
  public Iterator<Row> call(Iterator<Row> input) {
    TaskContext ctx = TaskContext.get();
    TaskReport report = new TaskReport();
    report.executorId = ExecutorResources.executorId();
    report.partition = ctx == null ? 0 : ctx.partitionId();
    JsonNode start = Resident.stats();
    report.loadsBefore = start.path("process_loads").asLong();
    report.loadSecondsBefore = start.path("process_load_seconds").asDouble();
    long t0 = System.nanoTime();

    int chunk = settings.strategy == Strategy.SHARED_BATCHED ? 2 * settings.parallel : 8;

    return new Iterator<Row>() {
      private final Deque<Row> ready = new ArrayDeque<>();
      private boolean reported;
      private Serving serving; // opened with the first row: an empty partition loads nothing

      private Serving serving() {
        if (serving == null) {
          ExecutorModels.applyBudget(settings);
          Serving s = open(settings.spec(ExecutorModels.locate(settings.model)));
          serving = s;
          if (ctx != null) ctx.addTaskCompletionListener((TaskCompletionListener) c -> s.close());
        }
        return serving;
      }

      @Override
      public boolean hasNext() {
        while (ready.isEmpty() && input.hasNext()) fill();
        if (ready.isEmpty() && !reported) {
          reported = true;
          // Done: free this task's context (or private model) now, not at task end.
          if (serving != null) serving.close();
          JsonNode end = Resident.stats();
          report.loadsAfter = end.path("process_loads").asLong();
          report.loadSecondsAfter = end.path("process_load_seconds").asDouble();
          report.seconds = (System.nanoTime() - t0) / 1e9;
          report.peakRssBytes = end.path("peak_rss_bytes").asLong();
          report.evictions = end.path("evictions").asLong();
          report.budgetBytes = end.path("budget_bytes").asLong();
          report.budgetPeakBytes = end.path("budget_peak_bytes").asLong();
          metrics.add(report);
        }
        return !ready.isEmpty();
      }

      @Override
      public Row next() {
        if (!hasNext()) throw new NoSuchElementException();
        return ready.poll();
      }

      private void fill() {
        List<Row> rows = new ArrayList<>(chunk);
        while (rows.size() < chunk && input.hasNext()) rows.add(input.next());
        List<GenerationRequest> requests = new ArrayList<>(rows.size());
        List<String> problems = new ArrayList<>(rows.size());
        for (Row row : rows) {
          String problem = null;
          GenerationRequest r = null;
          try {
            r = request(row);
          } catch (IllegalArgumentException e) {
            problem = e.getMessage();
          }
          problems.add(problem);
          if (r != null) requests.add(r);
        }
        List<Generation> results = requests.isEmpty() ? List.of() : serving().generate(requests);
        int next = 0;
        for (int i = 0; i < rows.size(); i++) {
          Generation g =
              problems.get(i) != null
                  ? Generation.failed(
                      new ResidentException(
                          ResidentException.Code.INVALID_ARGUMENT, problems.get(i)))
                  : results.get(next++);
          ready.add(output(rows.get(i), g));
          if (g.isOk()) {
            report.rowsOk++;
            report.tokensIn += g.promptTokens();
            report.tokensOut += g.completionTokens();
          } else {
            report.rowsFailed++;
          }
        }
      }
    };
  }

  /** The request of one row; IllegalArgumentException says why the row has none. */
  private GenerationRequest request(Row row) {
    Object value = row.get(settings.inputIndex);
    if (value == null) {
      throw new IllegalArgumentException(
          "the prompt is null: give each row a prompt (or filter out rows without one)");
    }
    GenerationRequest r;
    String key;
    if (settings.inputIsChat) {
      List<ChatMessage> messages = new ArrayList<>();
      StringBuilder k = new StringBuilder();
      for (Object o : row.getList(settings.inputIndex)) {
        Row m = (Row) o;
        if (m == null || m.getAs("role") == null || m.getAs("content") == null) {
          throw new IllegalArgumentException(
              "a chat message is null or lacks its role or content: give every message both");
        }
        messages.add(new ChatMessage(m.getAs("role"), m.getAs("content")));
        k.append(m.<String>getAs("role")).append('\u0000').append(m.<String>getAs("content"));
      }
      r = GenerationRequest.ofMessages(messages);
      key = k.toString();
    } else {
      String prompt = (String) value;
      if (!settings.promptTemplate.isEmpty()) {
        prompt = settings.promptTemplate.replace("{prompt}", prompt);
      }
      r =
          settings.chat
              ? GenerationRequest.ofMessages(List.of(new ChatMessage("user", prompt)))
              : GenerationRequest.ofPrompt(prompt);
      key = prompt;
    }
    if (!settings.systemPrompt.isEmpty()) r.systemPrompt(settings.systemPrompt);
    if (settings.idIndex >= 0 && row.get(settings.idIndex) != null) {
      key = "id:" + row.get(settings.idIndex);
    }
    return settings.sampling(r).rowKey(key);
  }

  private static Row output(Row in, Generation g) {
    Object[] values = new Object[in.length() + 5];
    for (int i = 0; i < in.length(); i++) values[i] = in.get(i);
    int n = in.length();
    values[n] = g.isOk() ? g.text() : null;
    values[n + 1] = g.isOk() ? g.promptTokens() : null;
    values[n + 2] = g.isOk() ? g.completionTokens() : null;
    values[n + 3] = g.isOk() ? g.finishReason() : null;
    values[n + 4] = g.isOk() ? null : g.error().getMessage();
    return RowFactory.create(values);
  }
}
