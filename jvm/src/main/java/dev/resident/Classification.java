package dev.resident;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Json;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The outcome of classifying one image: its top classes, best first, or the error that explains why
 * there are none (a bad image fails alone; the others are classified).
 */
public final class Classification {
  /** One class of the model with its score (a probability). */
  public static final class ClassScore {
    private final int index;
    private final String label;
    private final float score;

    ClassScore(int index, String label, float score) {
      this.index = index;
      this.label = label;
      this.score = score;
    }

    /** The class's index in the model's output. */
    public int index() {
      return index;
    }

    /** The model's label, or {@code class <index>} when it has none. */
    public String label() {
      return label;
    }

    public float score() {
      return score;
    }

    @Override
    public String toString() {
      return label + " (" + score + ")";
    }
  }

  private final List<ClassScore> top;
  private final int width;
  private final int height;
  private final ResidentException error;

  private Classification(List<ClassScore> top, int width, int height, ResidentException error) {
    this.top = top;
    this.width = width;
    this.height = height;
    this.error = error;
  }

  /**
   * A native outcome: {@code {"error": {...}}} or the top classes and the image's size.
   *
   * @throws ResidentException INTERNAL naming the field when one is missing or of another type, or
   *     the code when the error's is unknown
   */
  static Classification fromJson(JsonNode j) {
    if (j == null || !j.isObject()) {
      throw new ResidentException(
          ResidentException.Code.INTERNAL, "native code returned a classification as " + j);
    }
    ResidentException error = ResidentException.fromJson(j.get("error"));
    if (error != null) return failed(error);
    String what = "a classification";
    List<ClassScore> top = new ArrayList<>();
    for (JsonNode c : Json.arrayField(j, "top", what)) {
      top.add(
          new ClassScore(
              Json.intField(c, "index", "a class score"),
              Json.textField(c, "label", "a class score"),
              (float) Json.doubleField(c, "score", "a class score")));
    }
    return new Classification(
        Collections.unmodifiableList(top),
        Json.intField(j, "width", what),
        Json.intField(j, "height", what),
        null);
  }

  /** An outcome that holds only an error. */
  public static Classification failed(ResidentException error) {
    return new Classification(List.of(), 0, 0, error);
  }

  public boolean isOk() {
    return error == null;
  }

  /** The best class's label, or null when the image failed. */
  public String label() {
    return isOk() && !top.isEmpty() ? top.get(0).label() : null;
  }

  /** The best class's score, or NaN when the image failed. */
  public float score() {
    return isOk() && !top.isEmpty() ? top.get(0).score() : Float.NaN;
  }

  /** The top classes asked for, best first; empty when the image failed. */
  public List<ClassScore> top() {
    return top;
  }

  /** The decoded image's width in pixels (0 when it failed). */
  public int width() {
    return width;
  }

  public int height() {
    return height;
  }

  /** Why the image has no classes, or null. */
  public ResidentException error() {
    return error;
  }

  @Override
  public String toString() {
    return isOk() ? "Classification" + top : "Classification[" + error.getMessage() + "]";
  }
}
