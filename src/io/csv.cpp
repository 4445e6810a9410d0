// CSV reader and writer (RFC 4180). The reader is a byte-at-a-time state machine over a buffered
// file, so a record may span any number of lines and chunks while memory stays at one batch.
#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "common/base64.h"
#include "common/text.h"
#include "io/files.h"
#include "io/formats.h"
#include "table/record_batch.h"

namespace structflow::io {
namespace {

using table::DataType;
using table::TypeId;
using table::TypePtr;

// One parsed record: its fields, whether each was quoted, and the line it started on.
struct Record {
  std::vector<std::string> fields;
  std::vector<bool> quoted;
  size_t size = 0;
  int64_t line = 0;
};

class CsvParser {
 public:
  CsvParser(std::string file, std::unique_ptr<ByteReader> in)
      : file_(std::move(file)), in_(std::move(in)) {
    // A UTF-8 byte order mark is not part of the first column's name.
    if (in_->Peek() == 0xEF) {
      in_->Get();
      if (in_->Peek() == 0xBB) in_->Get();
      if (in_->Peek() == 0xBF) in_->Get();
    }
  }

  // Reads the next record into *rec; false at the end of the file. Blank lines are skipped.
  Result<bool> Next(Record* rec) {
    int c = in_->Get();
    while (c == '\n' || c == '\r') {
      if (c == '\n') ++line_;
      c = in_->Get();
    }
    if (c < 0) {
      SF_RETURN_NOT_OK(in_->status());
      return false;
    }
    rec->size = 0;
    rec->line = line_;
    while (true) {
      if (rec->size == rec->fields.size()) {
        rec->fields.emplace_back();
        rec->quoted.push_back(false);
      }
      std::string& f = rec->fields[rec->size];
      f.clear();
      bool quoted = false;
      if (c == '"') {
        quoted = true;
        int64_t start_line = line_;
        while (true) {
          c = in_->Get();
          if (c < 0) {
            SF_RETURN_NOT_OK(in_->status());
            return Status::Corrupt(fmt::format(
                "{}:{}: a quoted field never closes (no matching \"); a quote inside a field is "
                "written as two quotes (\"\")",
                file_, start_line));
          }
          if (c == '"') {
            if (in_->Peek() == '"') {
              in_->Get();
              f.push_back('"');
              continue;
            }
            break;
          }
          if (c == '\n') ++line_;
          f.push_back(static_cast<char>(c));
        }
        c = in_->Get();
        if (c >= 0 && c != ',' && c != '\n' && c != '\r') {
          return Status::Corrupt(fmt::format(
              "{}:{}: unexpected character '{}' after the closing quote of field {}; a quote "
              "inside a field is written as two quotes (\"\")",
              file_, line_, QuoteInput(std::string(1, static_cast<char>(c))), rec->size + 1));
        }
      } else {
        while (c >= 0 && c != ',' && c != '\n' && c != '\r') {
          f.push_back(static_cast<char>(c));
          c = in_->Get();
        }
      }
      rec->quoted[rec->size] = quoted;
      ++rec->size;
      if (c == ',') {
        c = in_->Get();
        continue;
      }
      if (c == '\r' && in_->Peek() == '\n') in_->Get();
      if (c == '\n' || c == '\r') ++line_;
      if (c < 0) SF_RETURN_NOT_OK(in_->status());
      return true;
    }
  }

  const std::string& file() const { return file_; }

 private:
  std::string file_;
  std::unique_ptr<ByteReader> in_;
  int64_t line_ = 1;
};

bool ParseBool(std::string_view s, bool* out) {
  if (s.size() == 4 && (s[0] | 0x20) == 't' && (s[1] | 0x20) == 'r' && (s[2] | 0x20) == 'u' &&
      (s[3] | 0x20) == 'e') {
    *out = true;
    return true;
  }
  if (s.size() == 5 && (s[0] | 0x20) == 'f' && (s[1] | 0x20) == 'a' && (s[2] | 0x20) == 'l' &&
      (s[3] | 0x20) == 's' && (s[4] | 0x20) == 'e') {
    *out = false;
    return true;
  }
  return false;
}

bool ParseInt(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool ParseDouble(std::string_view s, double* out) {
  if (s.empty()) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

// True for a value that would not come back as written once typed as a number: a leading zero
// (a ZIP code "01234", an ID "007") or an integer too long for int64 (it would become a rounded
// double). Such a column stays a string: the columns a job passes through must come out as they
// went in.
bool NumberWouldChange(std::string_view v) {
  size_t sign = !v.empty() && v[0] == '-' ? 1 : 0;
  size_t end = sign;
  while (end < v.size() && v[end] >= '0' && v[end] <= '9') ++end;
  if (end - sign >= 2 && v[sign] == '0') return true;
  if (end == v.size() && end - sign > 18) {
    int64_t i;
    return !ParseInt(v, &i);
  }
  return false;
}

// Candidate types of one column, narrowed by each sampled value.
struct Candidates {
  bool any = false;  // saw a non-empty value
  bool can_bool = true, can_int = true, can_double = true;

  void Observe(std::string_view v) {
    any = true;
    bool b;
    int64_t i;
    double d;
    if ((can_int || can_double) && NumberWouldChange(v)) can_int = can_double = false;
    if (can_bool && !ParseBool(v, &b)) can_bool = false;
    if (can_int && !ParseInt(v, &i)) can_int = false;
    if (can_double && !ParseDouble(v, &d)) can_double = false;
  }
  TypePtr Type() const {
    if (!any) return DataType::String();
    if (can_bool) return DataType::Bool();
    if (can_int) return DataType::Int64();
    if (can_double) return DataType::Double();
    return DataType::String();
  }
};

struct Header {
  std::vector<std::string> names;
};

Result<Header> ReadHeader(CsvParser* parser) {
  Record rec;
  SF_ASSIGN_OR_RAISE(bool any, parser->Next(&rec));
  if (!any) {
    return Status::InvalidArgument(fmt::format(
        "'{}' is empty; a CSV input needs a header row naming its columns", parser->file()));
  }
  Header h;
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < rec.size; ++i) {
    std::string name = rec.fields[i].empty() ? fmt::format("column{}", i + 1) : rec.fields[i];
    if (!seen.insert(name).second) {
      return Status::InvalidArgument(
          fmt::format("{}:1: the header names column '{}' twice; give every column its own name",
                      parser->file(), name));
    }
    h.names.push_back(std::move(name));
  }
  return h;
}

Result<std::unique_ptr<CsvParser>> OpenParser(const std::string& file) {
  SF_ASSIGN_OR_RAISE(auto in, ByteReader::Open(file));
  return std::make_unique<CsvParser>(file, std::move(in));
}

Status FieldCountError(const std::string& file, int64_t line, size_t got, size_t want) {
  return Status::Corrupt(fmt::format(
      "{}:{}: the record has {} fields but the header has {}; quote fields that contain commas or "
      "line breaks (\"a,b\")",
      file, line, got, want));
}

// `*rows` is set to the file's row count when the sample read it whole, else to nullopt;
// `*seen` says which columns the sample saw a value in (or an override typed): the others'
// types are a guess that another file may settle.
Result<table::Schema> InferCsvFile(const std::string& file, const ReadOptions& options,
                                   const std::vector<std::pair<std::string, TypePtr>>& overrides,
                                   std::optional<int64_t>* rows, std::vector<bool>* seen) {
  SF_ASSIGN_OR_RAISE(auto parser, OpenParser(file));
  SF_ASSIGN_OR_RAISE(Header header, ReadHeader(parser.get()));
  std::vector<Candidates> cands(header.names.size());
  Record rec;
  rows->reset();
  for (int64_t n = 0; n < options.infer_rows; ++n) {
    SF_ASSIGN_OR_RAISE(bool more, parser->Next(&rec));
    if (!more) {
      *rows = n;
      break;
    }
    if (rec.size != header.names.size()) {
      return FieldCountError(file, rec.line, rec.size, header.names.size());
    }
    for (size_t i = 0; i < rec.size; ++i) {
      if (!rec.fields[i].empty()) cands[i].Observe(rec.fields[i]);
    }
  }
  table::Schema schema;
  for (size_t i = 0; i < header.names.size(); ++i) {
    schema.fields.push_back({header.names[i], cands[i].Type()});
    seen->push_back(cands[i].any);
  }
  for (const auto& [name, type] : overrides) {
    int i = schema.FieldIndex(name);
    if (i < 0) {
      std::string names;
      for (const auto& f : schema.fields) names += (names.empty() ? "" : ", ") + f.name;
      return Status::NotFound(
          fmt::format("type override '{}={}' names no column of '{}'; its columns are: {}", name,
                      type->ToString(), file, names));
    }
    schema.fields[i].type = type;
    (*seen)[i] = true;
  }
  return schema;
}

class CsvFileSource : public Source {
 public:
  CsvFileSource(std::unique_ptr<CsvParser> parser, size_t num_fields, table::Schema schema,
                std::vector<int> field_of_column, ReadOptions options)
      : parser_(std::move(parser)),
        num_fields_(num_fields),
        schema_(std::move(schema)),
        field_of_column_(std::move(field_of_column)),
        options_(std::move(options)) {}

  const table::Schema& schema() const override { return schema_; }
  std::optional<int64_t> num_rows() const override { return std::nullopt; }
  std::string base_dir() const override { return ParentDir(parser_->file()); }

  Result<std::optional<table::RecordBatch>> Next() override {
    if (done_) return std::optional<table::RecordBatch>();
    table::RecordBatch batch = table::RecordBatch::Empty(schema_);
    int64_t rows = 0;
    while (rows < options_.batch_rows) {
      SF_ASSIGN_OR_RAISE(bool more, parser_->Next(&rec_));
      if (!more) {
        done_ = true;
        break;
      }
      if (rec_.size != num_fields_) {
        done_ = true;
        return FieldCountError(parser_->file(), rec_.line, rec_.size, num_fields_);
      }
      for (size_t c = 0; c < field_of_column_.size(); ++c) {
        SF_RETURN_NOT_OK(
            AppendField(&batch.columns[c], schema_.fields[c].name, field_of_column_[c]));
      }
      ++rows;
    }
    if (rows == 0) return std::optional<table::RecordBatch>();
    return std::optional<table::RecordBatch>(std::move(batch));
  }

 private:
  Status AppendField(table::Column* col, const std::string& name, int f) {
    const std::string& v = rec_.fields[f];
    if (v.empty()) {
      if (col->type_id() == TypeId::kString && rec_.quoted[f]) {
        col->AppendBytes("");
      } else {
        col->AppendNull();
      }
      return Status::OK();
    }
    switch (col->type_id()) {
      case TypeId::kBool: {
        bool b;
        if (ParseBool(v, &b)) {
          col->AppendBool(b);
          return Status::OK();
        }
        break;
      }
      case TypeId::kInt64: {
        int64_t i;
        if (ParseInt(v, &i)) {
          col->AppendInt(i);
          return Status::OK();
        }
        break;
      }
      case TypeId::kDouble: {
        double d;
        if (ParseDouble(v, &d)) {
          col->AppendDouble(d);
          return Status::OK();
        }
        break;
      }
      case TypeId::kBinary: {
        std::string bytes;
        if (Base64Decode(v, &bytes)) {
          col->AppendBytes(bytes);
          return Status::OK();
        }
        break;
      }
      default:
        col->AppendBytes(v);
        return Status::OK();
    }
    done_ = true;
    std::string shown = v.size() > 80 ? v.substr(0, 80) + "..." : v;
    return Status::InvalidArgument(fmt::format(
        "{}:{}: column '{}' holds '{}', which is not {} (types were inferred from the first {} "
        "rows); fix: sample more rows (--infer-rows N) or set the type (--schema-override "
        "{}=string)",
        parser_->file(), rec_.line, name, shown, col->type()->ToString(), options_.infer_rows,
        name));
  }

  std::unique_ptr<CsvParser> parser_;
  size_t num_fields_;
  table::Schema schema_;
  std::vector<int> field_of_column_;
  ReadOptions options_;
  Record rec_;
  bool done_ = false;
};

// ------------------------------------------------------------------------------------- writer

void AppendQuoted(std::string* out, std::string_view v) {
  bool quote = v.empty() || v.find_first_of(",\"\r\n") != std::string_view::npos ||
               v.front() == ' ' || v.back() == ' ';
  if (!quote) {
    out->append(v);
    return;
  }
  out->push_back('"');
  for (char c : v) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

void AppendCsvCell(const table::Column& col, int64_t row, std::string* out, std::string* scratch) {
  if (col.IsNull(row)) return;  // an empty field
  switch (col.type_id()) {
    case TypeId::kString:
      AppendQuoted(out, col.GetBytes(row));
      return;
    case TypeId::kBinary:
      scratch->clear();
      Base64Append(scratch, col.GetBytes(row));
      out->append(*scratch);  // base64 needs no quoting, and is never empty unless the value is
      if (scratch->empty()) out->append("\"\"");
      return;
    case TypeId::kFloat:
    case TypeId::kDouble: {
      double d = col.GetDouble(row);
      if (std::isnan(d)) {
        out->append("nan");
      } else if (std::isinf(d)) {
        out->append(d > 0 ? "inf" : "-inf");
      } else {
        table::AppendCellJson(col, row, out);
      }
      return;
    }
    case TypeId::kDate32:
    case TypeId::kTimestamp:
    case TypeId::kDecimal: {
      // Their JSON form is a quoted string without escapes; the CSV form drops the quotes.
      scratch->clear();
      table::AppendCellJson(col, row, scratch);
      out->append(std::string_view(*scratch).substr(1, scratch->size() - 2));
      return;
    }
    case TypeId::kList:
    case TypeId::kStruct:
    case TypeId::kMap:
      scratch->clear();
      table::AppendCellJson(col, row, scratch);
      AppendQuoted(out, *scratch);
      return;
    default:
      table::AppendCellJson(col, row, out);
  }
}

std::string CsvHeader(const table::Schema& schema) {
  std::string out;
  for (size_t c = 0; c < schema.fields.size(); ++c) {
    if (c) out.push_back(',');
    AppendQuoted(&out, schema.fields[c].name);
  }
  out.push_back('\n');
  return out;
}

class CsvSink : public TextRowSink {
 public:
  CsvSink(table::Schema schema, std::unique_ptr<AtomicFile> file)
      : TextRowSink(schema, std::move(file), CsvHeader(schema)) {}

 private:
  void AppendRow(const table::RecordBatch& batch, int64_t row, std::string* out) override {
    for (int c = 0; c < batch.num_columns(); ++c) {
      if (c) out->push_back(',');
      AppendCsvCell(batch.columns[c], row, out, &scratch_);
    }
    out->push_back('\n');
  }

  std::string scratch_;
};

}  // namespace

Result<std::unique_ptr<Source>> OpenCsvSource(const std::vector<std::string>& files,
                                              const ReadOptions& options) {
  if (files.empty()) return Status::InvalidArgument("no CSV file given");
  if (options.infer_rows <= 0) {
    return Status::InvalidArgument(
        fmt::format("infer_rows must be positive, got {}", options.infer_rows));
  }
  SF_ASSIGN_OR_RAISE(auto overrides, ParseTypeOverrides(options.type_overrides));
  std::optional<int64_t> rows;
  std::vector<bool> full_seen;
  SF_ASSIGN_OR_RAISE(table::Schema full,
                     InferCsvFile(files[0], options, overrides, &rows, &full_seen));
  // Files that fit in the inference sample were read whole: their row count is known (a
  // progress total from the start; 0 for a header-only file, which the caller can warn about).
  std::optional<int64_t> total = rows;
  // Widen int64 to double across files; any other difference is an error.
  for (size_t i = 1; i < files.size(); ++i) {
    std::vector<bool> seen;
    SF_ASSIGN_OR_RAISE(table::Schema other,
                       InferCsvFile(files[i], options, overrides, &rows, &seen));
    if (total && rows) {
      *total += *rows;
    } else {
      total.reset();
    }
    if (other.fields.size() == full.fields.size()) {
      for (size_t k = 0; k < full.fields.size(); ++k) {
        auto a = full.fields[k].type->id(), b = other.fields[k].type->id();
        if (full.fields[k].name != other.fields[k].name) continue;
        // A column with no value in one file's sample (a header-only shard, a column empty so
        // far) takes the type the other file saw.
        if (!seen[k]) {
          other.fields[k].type = full.fields[k].type;
          continue;
        }
        if (!full_seen[k]) {
          full.fields[k].type = other.fields[k].type;
          full_seen[k] = true;
          continue;
        }
        if ((a == TypeId::kInt64 && b == TypeId::kDouble) ||
            (a == TypeId::kDouble && b == TypeId::kInt64)) {
          full.fields[k].type = other.fields[k].type = DataType::Double();
        }
      }
    }
    std::string diff =
        DescribeSchemaDifference(full, "'" + files[0] + "'", other, "'" + files[i] + "'");
    if (!diff.empty()) {
      return Status::InvalidArgument(fmt::format(
          "inputs '{}' and '{}' have different schemas: {}; read them separately, or set the "
          "type of differing columns (--schema-override column=string)",
          files[0], files[i], diff));
    }
  }
  SF_ASSIGN_OR_RAISE(table::Schema schema,
                     ProjectSchema(full, options.columns, "'" + files[0] + "'"));
  std::vector<int> field_of_column;
  for (const auto& f : schema.fields) field_of_column.push_back(full.FieldIndex(f.name));
  size_t num_fields = full.fields.size();
  auto open = [schema, field_of_column, num_fields,
               options](const std::string& path) -> Result<std::unique_ptr<Source>> {
    SF_ASSIGN_OR_RAISE(auto parser, OpenParser(path));
    SF_RETURN_NOT_OK(ReadHeader(parser.get()).status());
    return std::unique_ptr<Source>(
        new CsvFileSource(std::move(parser), num_fields, schema, field_of_column, options));
  };
  return std::unique_ptr<Source>(
      new MultiFileSource(schema, files, std::move(open), total, ParentDir(files[0])));
}

Result<std::unique_ptr<Sink>> OpenCsvSink(const std::string& path, const table::Schema& schema) {
  SF_ASSIGN_OR_RAISE(auto file, AtomicFile::Create(path));
  return std::unique_ptr<Sink>(new CsvSink(schema, std::move(file)));
}

}  // namespace structflow::io
