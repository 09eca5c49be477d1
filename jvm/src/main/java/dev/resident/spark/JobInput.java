package dev.resident.spark;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.monotonically_increasing_id;

import com.fasterxml.jackson.databind.JsonNode;
import dev.resident.internal.Json;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.LocatedFileStatus;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RemoteIterator;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Reads the ready job's input in one pass, in file order. The schema comes without a Spark job:
 * Parquet's from its footer, CSV's from its header line, JSON lines' from the first lines, read on
 * the driver and typed as Spark's own inference types them. The partitions come without a shuffle:
 * the reader splits line-delimited files into byte ranges of total / partitions; inputs it cannot
 * split that way fall back to range partitioning (a sampling pass and a shuffle, still in order).
 */
final class JobInput {
  /** Lines of a JSON input read on the driver to type its columns. */
  static final int SCHEMA_LINES = 10_000;

  private JobInput() {}

  static Dataset<Row> read(SparkSession spark, String path, String format, int partitions)
      throws IOException {
    Configuration hadoop = spark.sparkContext().hadoopConfiguration();
    List<FileStatus> files = files(hadoop, path);
    boolean splittable = format.equals("json");
    if (partitions > 0 && splittable) {
      long bytes = files.stream().mapToLong(FileStatus::getLen).sum();
      long split = Math.max(1, (bytes + partitions - 1) / partitions);
      spark.conf().set("spark.sql.files.maxPartitionBytes", Long.toString(split));
      spark.conf().set("spark.sql.files.openCostInBytes", Long.toString(split));
    }
    Dataset<Row> input =
        switch (format) {
          case "json" -> spark.read().schema(jsonSchema(hadoop, files)).json(path);
          case "csv" ->
              spark
                  .read()
                  .schema(csvSchema(hadoop, files))
                  .option("header", "true")
                  .option("multiLine", "true")
                  .csv(path);
          default -> spark.read().parquet(path);
        };
    if (partitions <= 0 || input.rdd().getNumPartitions() == partitions) return input;
    // Contiguous ranges of the original order, so the output keeps it.
    return input
        .withColumn("__resident_row", monotonically_increasing_id())
        .repartitionByRange(partitions, col("__resident_row"))
        .sortWithinPartitions("__resident_row")
        .drop("__resident_row");
  }

  /** The data files of a path (a file, a folder of parts, a glob), in name order. */
  static List<FileStatus> files(Configuration hadoop, String path) throws IOException {
    Path p = new Path(path);
    FileSystem fs = p.getFileSystem(hadoop);
    FileStatus[] matched = fs.globStatus(p);
    if (matched == null || matched.length == 0) {
      throw new ResidentJob.UsageError("the input " + path + " does not exist");
    }
    Map<String, FileStatus> out = new TreeMap<>();
    for (FileStatus m : matched) {
      if (m.isFile()) {
        out.put(m.getPath().toString(), m);
        continue;
      }
      RemoteIterator<LocatedFileStatus> it = fs.listFiles(m.getPath(), true);
      while (it.hasNext()) {
        LocatedFileStatus f = it.next();
        String name = f.getPath().getName();
        if (f.isFile() && !name.startsWith("_") && !name.startsWith(".")) {
          out.put(f.getPath().toString(), f);
        }
      }
    }
    return new ArrayList<>(out.values());
  }

  /** The first {@code limit} lines of the files, in order. */
  private static List<String> head(Configuration hadoop, List<FileStatus> files, int limit)
      throws IOException {
    List<String> lines = new ArrayList<>();
    for (FileStatus f : files) {
      FileSystem fs = f.getPath().getFileSystem(hadoop);
      try (BufferedReader r =
          new BufferedReader(new InputStreamReader(fs.open(f.getPath()), StandardCharsets.UTF_8))) {
        for (String line; lines.size() < limit && (line = r.readLine()) != null; ) {
          if (!line.isBlank()) lines.add(line);
        }
      }
      if (lines.size() >= limit) break;
    }
    return lines;
  }

  /**
   * The columns of JSON lines, typed from the first {@link #SCHEMA_LINES} lines as Spark's
   * inference types them (integers long, numbers double, fields sorted by name, conflicts string).
   * A field that first appears after those lines is not read.
   */
  static StructType jsonSchema(Configuration hadoop, List<FileStatus> files) throws IOException {
    DataType all = DataTypes.NullType;
    for (String line : head(hadoop, files, SCHEMA_LINES)) {
      JsonNode j;
      try {
        j = Json.mapper().readTree(line);
      } catch (IOException e) {
        continue; // a corrupt line reads as nulls, and fails its row alone
      }
      if (j != null && j.isObject()) all = merge(all, typeOf(j));
    }
    return all instanceof StructType s ? (StructType) settle(s) : new StructType();
  }

  private static DataType typeOf(JsonNode j) {
    if (j == null || j.isNull()) return DataTypes.NullType;
    if (j.isBoolean()) return DataTypes.BooleanType;
    if (j.isIntegralNumber())
      return j.canConvertToLong() ? DataTypes.LongType : DataTypes.DoubleType;
    if (j.isNumber()) return DataTypes.DoubleType;
    if (j.isArray()) {
      DataType e = DataTypes.NullType;
      for (JsonNode x : j) e = merge(e, typeOf(x));
      return DataTypes.createArrayType(e, true);
    }
    if (j.isObject()) {
      Map<String, DataType> fields = new TreeMap<>();
      Iterator<Map.Entry<String, JsonNode>> it = j.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> f = it.next();
        fields.put(f.getKey(), typeOf(f.getValue()));
      }
      return struct(fields);
    }
    return DataTypes.StringType;
  }

  private static StructType struct(Map<String, DataType> sorted) {
    List<StructField> out = new ArrayList<>();
    sorted.forEach((k, v) -> out.add(DataTypes.createStructField(k, v, true)));
    return DataTypes.createStructType(out);
  }

  private static DataType merge(DataType a, DataType b) {
    if (a.equals(b) || b.equals(DataTypes.NullType)) return a;
    if (a.equals(DataTypes.NullType)) return b;
    if (isNumber(a) && isNumber(b)) return DataTypes.DoubleType;
    if (a instanceof ArrayType x && b instanceof ArrayType y) {
      return DataTypes.createArrayType(merge(x.elementType(), y.elementType()), true);
    }
    if (a instanceof StructType x && b instanceof StructType y) {
      Map<String, DataType> fields = new TreeMap<>();
      for (StructField f : x.fields()) fields.put(f.name(), f.dataType());
      for (StructField f : y.fields()) fields.merge(f.name(), f.dataType(), JobInput::merge);
      return struct(fields);
    }
    return DataTypes.StringType;
  }

  private static boolean isNumber(DataType t) {
    return t.equals(DataTypes.LongType) || t.equals(DataTypes.DoubleType);
  }

  /** Fields seen only as null are read as strings, as Spark does. */
  private static DataType settle(DataType t) {
    if (t.equals(DataTypes.NullType)) return DataTypes.StringType;
    if (t instanceof ArrayType a) return DataTypes.createArrayType(settle(a.elementType()), true);
    if (t instanceof StructType s) {
      List<StructField> out = new ArrayList<>();
      for (StructField f : s.fields()) {
        out.add(DataTypes.createStructField(f.name(), settle(f.dataType()), true));
      }
      return DataTypes.createStructType(out);
    }
    return t;
  }

  /** CSV columns from the header line of the first file, all strings (no inference pass). */
  static StructType csvSchema(Configuration hadoop, List<FileStatus> files) throws IOException {
    List<String> first = head(hadoop, files.subList(0, 1), 1);
    if (first.isEmpty()) return new StructType();
    List<StructField> out = new ArrayList<>();
    for (String name : splitCsvLine(first.get(0))) {
      out.add(DataTypes.createStructField(name, DataTypes.StringType, true));
    }
    return DataTypes.createStructType(out);
  }

  /** The fields of one CSV line: comma-separated, double quotes around fields with commas. */
  static List<String> splitCsvLine(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder f = new StringBuilder();
    boolean quoted = false;
    for (int i = 0; i < line.length(); i++) {
      char c = line.charAt(i);
      if (quoted) {
        if (c == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
          f.append('"');
          i++;
        } else if (c == '"') {
          quoted = false;
        } else {
          f.append(c);
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        out.add(f.toString());
        f.setLength(0);
      } else {
        f.append(c);
      }
    }
    out.add(f.toString());
    return out;
  }
}
