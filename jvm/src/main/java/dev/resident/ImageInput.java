package dev.resident;

/**
 * One image to classify: the bytes of an image file (JPEG, PNG, BMP or GIF), or decoded pixels in
 * the layout of Spark's image data source ({@code height} rows of {@code width} x {@code channels}
 * bytes, top row first, channels B, G, R and A, or one grey channel).
 */
public final class ImageInput {
  final byte[] bytes;
  final int width;
  final int height;
  final int channels;

  private ImageInput(byte[] bytes, int width, int height, int channels) {
    this.bytes = bytes;
    this.width = width;
    this.height = height;
    this.channels = channels;
  }

  /** An encoded image file. */
  public static ImageInput ofFile(byte[] bytes) {
    return new ImageInput(bytes, 0, 0, 0);
  }

  /** Decoded pixels (Spark's image schema: {@code data}, {@code width}, {@code height}, ...). */
  public static ImageInput ofPixels(byte[] data, int width, int height, int channels) {
    return new ImageInput(data, width, height, channels);
  }

  boolean isPixels() {
    return channels > 0;
  }
}
