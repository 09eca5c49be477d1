package dev.resident.spark;

import dev.resident.BatchEngine;
import dev.resident.Generation;
import dev.resident.GenerationRequest;
import dev.resident.Model;
import dev.resident.ModelSpec;
import dev.resident.Predictor;
import dev.resident.ResidentException;
import java.time.Duration;
import java.util.Deque;
import java.util.Iterator;
import java.util.Locale;
import java.util.NoSuchElementException;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.util.TaskCompletionListener;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The work of one task: streams its partition's rows through the job's strategy and yields every
 * input row, in order, with its completion or its error. A killed task stops its rows in the
 * engine.
 */
final class PartitionGenerator implements MapPartitionsFunction<Row, Row> {
  private static final long serialVersionUID = 1L;

  private static final Logger LOG = LoggerFactory.getLogger(PartitionGenerator.class);

  private final GeneratorSettings settings;
  private final JobMetrics metrics;

  PartitionGenerator(GeneratorSettings settings, JobMetrics metrics) {
    this.settings = settings;
    this.metrics = metrics;
  }

  /**
   * Serves one task's rows. {@link #submit} returns the row's future generation; with {@code wait}
   * false it returns null instead of waiting for room.
   */
  private interface Serving extends AutoCloseable {
    CompletableFuture<Generation> submit(GenerationRequest request, boolean wait);

    /** How many rows the task keeps in flight. */
    int window();

    /** Stops what is running now and all that comes later, from another thread (a killed task). */
    void interrupt();

    @Override
    void close();
  }

  /**
   * The executor's engine, fed a window of rows at a time: twice its slots, so that this task alone
   * could keep it full while it waits for its oldest row.
   */
  private static Serving batched(BatchEngine engine, int parallel) {
    return new Serving() {
      @Override
      public CompletableFuture<Generation> submit(GenerationRequest r, boolean wait) {
        return wait ? engine.submit(r) : engine.trySubmit(r, Duration.ZERO).orElse(null);
      }

      @Override
      public int window() {
        return 2 * parallel;
      }

      @Override
      public void interrupt() {
        // The task's futures are cancelled one by one (see the iterator).
      }

      @Override
      public void close() {
        // The engine is the executor's, not this task's.
      }
    };
  }

  /** A context of the task's own: one row at a time, generated on the task's thread. */
  private static Serving predicting(Predictor predictor, Model privateModel) {
    return new Serving() {
      @Override
      public CompletableFuture<Generation> submit(GenerationRequest r, boolean wait) {
        return CompletableFuture.completedFuture(predictor.generate(r));
      }

      @Override
      public int window() {
        return 1;
      }

      @Override
      public void interrupt() {
        predictor.stop(); // sticky: a row about to start is cancelled too
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
        hintTaskSlots();
        return batched(ExecutorModels.engine(spec), spec.parallel());
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

  private static final AtomicBoolean HINTED = new AtomicBoolean();

  /**
   * Says once per executor when it runs one task at a time: a task's rows then drain from the
   * engine before the next task's arrive, and small partitions leave its slots idle.
   */
  private void hintTaskSlots() {
    int slots = settings.executorCores / Math.max(1, settings.taskCpus);
    if (slots < 2 && HINTED.compareAndSet(false, true)) {
      LOG.warn(
          "executor {} runs one task at a time: its batch engine's {} slots fill only from the"
              + " running task's rows. Give executors more task slots (spark.executor.cores) than"
              + " compute threads (the threads Param), or fewer, larger partitions",
          ExecutorResources.executorId(),
          settings.parallel);
    }
  }

  /** A row taken from the input and the future of its generation. */
  private static final class InFlight {
    final Row row;
    final CompletableFuture<Generation> result;

    InFlight(Row row, CompletableFuture<Generation> result) {
      this.row = row;
      this.result = result;
    }
  }

  @Override
  public Iterator<Row> call(Iterator<Row> input) {
    TaskContext ctx = TaskContext.get();
    TaskReport report = TaskReport.start(ctx);

    // Streams: keeps a window of rows in flight, yields them in input order as they complete and
    // refills as it yields, so the engine never drains at a chunk's end.
    return new Iterator<Row>() {
      private final Deque<InFlight> window = new ConcurrentLinkedDeque<>();
      private Row stalled; // taken from the input, refused by a full engine queue: submitted next
      private boolean reported;
      private Serving serving; // opened with the first row: an empty partition loads nothing

      private Serving serving() {
        if (serving == null) {
          ExecutorModels.applyBudget(settings.memoryBudgetBytes, settings.memoryBudgetSource);
          Serving s = open(settings.spec(ExecutorModels.locate(settings.model)));
          serving = s;
          if (ctx != null) {
            TaskWatch.watch(ctx, this::stop);
            ctx.addTaskCompletionListener(
                (TaskCompletionListener)
                    c -> {
                      TaskWatch.forget(c);
                      stop(); // rows a consumer never asked for (a limit) stop too
                      s.close();
                    });
          }
        }
        return serving;
      }

      /** Stops every row of this task still in flight. */
      private void stop() {
        for (InFlight f : window) f.result.cancel(true);
        if (serving != null) serving.interrupt();
      }

      private void refill() {
        while (stalled != null || input.hasNext()) {
          // Before the first valid row opens the serving, bad rows still come out in windows.
          if (window.size() >= (serving != null ? serving.window() : 64)) return;
          killIfInterrupted(); // a killed task submits nothing more
          Row row = stalled != null ? stalled : input.next();
          stalled = null;
          CompletableFuture<Generation> result;
          try {
            GenerationRequest r = request(row);
            // Waits for queue room only when nothing is ready to yield meanwhile.
            result = serving().submit(r, window.isEmpty());
            if (result == null) {
              stalled = row;
              return;
            }
          } catch (IllegalArgumentException e) {
            result =
                CompletableFuture.completedFuture(
                    Generation.failed(
                        new ResidentException(
                            ResidentException.Code.INVALID_ARGUMENT, e.getMessage())));
          }
          window.add(new InFlight(row, result));
        }
      }

      @Override
      public boolean hasNext() {
        refill();
        if (window.isEmpty() && !reported) {
          reported = true;
          // Done: free this task's context (or private model) now, not at task end.
          if (serving != null) serving.close();
          report.finish();
          metrics.add(report);
          LOG.info(
              "resident task {} on executor {}: rows {} ok / {} failed, tokens {} in / {} out,"
                  + " {} s",
              report.partition,
              report.executorId,
              report.rowsOk,
              report.rowsFailed,
              report.tokensIn,
              report.tokensOut,
              String.format(Locale.ROOT, "%.2f", report.seconds));
        }
        return !window.isEmpty();
      }

      @Override
      public Row next() {
        if (!hasNext()) throw new NoSuchElementException();
        InFlight head = window.poll();
        Generation g = await(head.result);
        if (g.isOk()) {
          report.rowsOk++;
          report.tokensIn += g.promptTokens();
          report.tokensOut += g.completionTokens();
        } else {
          report.rowsFailed++;
        }
        return output(head.row, g);
      }

      /** The row's generation; leaves by Spark's kill exception when the task is killed. */
      private Generation await(CompletableFuture<Generation> f) {
        while (true) {
          try {
            return f.get(TaskWatch.PERIOD_MS, TimeUnit.MILLISECONDS);
          } catch (TimeoutException e) {
            killIfInterrupted();
          } catch (CancellationException e) {
            killIfInterrupted();
            return Generation.failed(
                new ResidentException(ResidentException.Code.CANCELLED, "the row was cancelled"));
          } catch (InterruptedException e) {
            stop();
            Thread.currentThread().interrupt();
            killIfInterrupted();
            throw new ResidentException(
                ResidentException.Code.CANCELLED, "the task was interrupted while rows ran");
          } catch (ExecutionException e) {
            throw new ResidentException(
                ResidentException.Code.INTERNAL, "a row's generation failed: " + e.getCause());
          }
        }
      }

      private void killIfInterrupted() {
        if (ctx != null && ctx.isInterrupted()) {
          stop();
          ctx.killTaskIfInterrupted();
        }
      }
    };
  }

  /** The request of one row by the row contract (a bad row's error comes back as its outcome). */
  private GenerationRequest request(Row row) {
    return settings.request(
        row.get(settings.inputIndex), settings.idIndex >= 0 ? row.get(settings.idIndex) : null);
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
