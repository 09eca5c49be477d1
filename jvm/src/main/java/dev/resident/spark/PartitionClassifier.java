package dev.resident.spark;

import dev.resident.Classification;
import dev.resident.Classifier;
import dev.resident.ClassifyEngine;
import dev.resident.ImageInput;
import dev.resident.Model;
import dev.resident.ModelSpec;
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
import scala.jdk.javaapi.CollectionConverters;

/**
 * The work of one {@link ImageClassifier} task: takes its rows a batch at a time, classifies them
 * through the job's strategy and yields every input row, in order, with its classes or its error.
 */
final class PartitionClassifier implements MapPartitionsFunction<Row, Row> {
  private static final long serialVersionUID = 1L;

  private final ClassifierSettings settings;
  private final JobMetrics metrics;

  PartitionClassifier(ClassifierSettings settings, JobMetrics metrics) {
    this.settings = settings;
    this.metrics = metrics;
  }

  /** Classifies one batch of a task's images; closed at the task's end. */
  private interface Serving extends AutoCloseable {
    List<Classification> classify(List<ImageInput> images);

    @Override
    void close();
  }

  private Serving open(ModelSpec spec) {
    int topK = settings.topK;
    switch (settings.strategy) {
      case SHARED_BATCHED:
        {
          ClassifyEngine engine = ExecutorModels.classifyEngine(spec);
          return new Serving() {
            @Override
            public List<Classification> classify(List<ImageInput> images) {
              return engine.classify(images, topK);
            }

            @Override
            public void close() {
              // The engine is the executor's, not this task's.
            }
          };
        }
      case SHARED:
        return own(ExecutorModels.model(spec).newClassifier(spec), null, topK);
      case PER_PARTITION:
      default:
        Model m = ExecutorModels.privateModel(spec);
        try {
          return own(m.newClassifier(spec), m, topK);
        } catch (RuntimeException e) {
          m.close();
          throw e;
        }
    }
  }

  /** A classifier of the task's own, over the executor's model or a private copy. */
  private static Serving own(Classifier classifier, Model privateModel, int topK) {
    return new Serving() {
      @Override
      public List<Classification> classify(List<ImageInput> images) {
        return classifier.classify(images, topK);
      }

      @Override
      public void close() {
        classifier.close();
        if (privateModel != null) privateModel.close();
      }
    };
  }

  @Override
  public Iterator<Row> call(Iterator<Row> input) {
    TaskContext ctx = TaskContext.get();
    TaskReport report = TaskReport.start(ctx);
    return new Iterator<Row>() {
      private final Deque<Row> ready = new ArrayDeque<>();
      private Serving serving; // opened by the first image: an empty partition loads nothing
      private boolean reported;

      private Serving serving() {
        if (serving == null) {
          ExecutorModels.applyBudget(
              settings.executors.memoryBudgetBytes, settings.executors.memoryBudgetSource);
          Serving s = open(settings.spec(ExecutorModels.locate(settings.model)));
          serving = s;
          if (ctx != null) ctx.addTaskCompletionListener((TaskCompletionListener) c -> s.close());
        }
        return serving;
      }

      /** Classifies the next batch of rows into {@code ready}. */
      private void fill() {
        List<Row> rows = new ArrayList<>();
        List<ImageInput> images = new ArrayList<>();
        List<Integer> at = new ArrayList<>(); // the row of each image
        List<Classification> out = new ArrayList<>();
        while (input.hasNext() && rows.size() < settings.batchSize) {
          if (ctx != null) ctx.killTaskIfInterrupted();
          Row row = input.next();
          rows.add(row);
          out.add(null);
          try {
            images.add(image(row));
            at.add(rows.size() - 1);
          } catch (IllegalArgumentException e) {
            out.set(
                rows.size() - 1,
                Classification.failed(
                    new ResidentException(
                        ResidentException.Code.INVALID_ARGUMENT, e.getMessage())));
          }
        }
        if (!images.isEmpty()) {
          List<Classification> got = serving().classify(images);
          for (int i = 0; i < got.size(); i++) out.set(at.get(i), got.get(i));
        }
        for (int i = 0; i < rows.size(); i++) {
          Classification c = out.get(i);
          if (c.isOk()) {
            report.rowsOk++;
          } else {
            report.rowsFailed++;
          }
          ready.add(output(rows.get(i), c));
        }
      }

      @Override
      public boolean hasNext() {
        if (ready.isEmpty()) fill();
        if (ready.isEmpty() && !reported) {
          reported = true;
          if (serving != null) serving.close(); // free the task's classifier (or copy) now
          report.finish();
          metrics.add(report);
        }
        return !ready.isEmpty();
      }

      @Override
      public Row next() {
        if (!hasNext()) throw new NoSuchElementException();
        return ready.poll();
      }
    };
  }

  /** The image of one row; IllegalArgumentException says why the row has none. */
  private ImageInput image(Row row) {
    Object value = row.get(settings.inputIndex);
    if (value == null) {
      throw new IllegalArgumentException(
          "the image is null: give each row an image (or filter out rows without one)");
    }
    if (!settings.pixels()) return ImageInput.ofFile((byte[]) value);
    Row img = (Row) value;
    if (img.isNullAt(settings.dataIndex)) {
      throw new IllegalArgumentException("the image's data is null");
    }
    return ImageInput.ofPixels(
        (byte[]) img.get(settings.dataIndex),
        img.getInt(settings.widthIndex),
        img.getInt(settings.heightIndex),
        img.getInt(settings.channelsIndex));
  }

  private static Row output(Row in, Classification c) {
    Object[] values = new Object[in.length() + 4];
    for (int i = 0; i < in.length(); i++) values[i] = in.get(i);
    int n = in.length();
    if (c.isOk()) {
      List<Row> top = new ArrayList<>();
      for (Classification.ClassScore s : c.top()) {
        top.add(RowFactory.create(s.label(), s.index(), s.score()));
      }
      values[n] = c.label();
      values[n + 1] = c.score();
      values[n + 2] = CollectionConverters.asScala(top).toSeq();
    } else {
      values[n + 3] = c.error().getMessage();
    }
    return RowFactory.create(values);
  }
}
