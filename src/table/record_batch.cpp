#include "table/record_batch.h"

#include <fmt/format.h>

#include <cstdlib>

#include "common/base64.h"
#include "common/json_writer.h"

namespace structflow::table {
namespace {

// Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
void CivilFromDays(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t yy = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = yy + (*m <= 2);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::string DateText(int64_t days) {
  int64_t y;
  unsigned m, d;
  CivilFromDays(days, &y, &m, &d);
  return fmt::format("{:04}-{:02}-{:02}", y, m, d);
}

std::string TimestampText(int64_t v, TimeUnit unit, bool utc) {
  int64_t per_sec = unit == TimeUnit::kMillis   ? 1000
                    : unit == TimeUnit::kMicros ? 1000000
                                                : 1000000000;
  int64_t secs = FloorDiv(v, per_sec);
  int64_t frac = v - secs * per_sec;
  int64_t days = FloorDiv(secs, 86400);
  int64_t sod = secs - days * 86400;
  std::string out =
      fmt::format("{}T{:02}:{:02}:{:02}", DateText(days), sod / 3600, sod / 60 % 60, sod % 60);
  if (frac != 0) {
    int width = unit == TimeUnit::kMillis ? 3 : unit == TimeUnit::kMicros ? 6 : 9;
    out += fmt::format(".{:0{}}", frac, width);
  }
  if (utc) out += "Z";
  return out;
}

std::string DecimalText(int64_t unscaled, int scale) {
  bool neg = unscaled < 0;
  uint64_t mag = neg ? 0 - static_cast<uint64_t>(unscaled) : static_cast<uint64_t>(unscaled);
  std::string digits = std::to_string(mag);
  std::string out = neg ? "-" : "";
  if (scale <= 0) return out + digits;
  size_t width = static_cast<size_t>(scale) + 1;
  if (digits.size() < width) digits = std::string(width - digits.size(), '0') + digits;
  size_t int_len = digits.size() - static_cast<size_t>(scale);
  out.append(digits, 0, int_len);
  out.push_back('.');
  out.append(digits, int_len, std::string::npos);
  return out;
}

}  // namespace

RecordBatch RecordBatch::Empty(const Schema& schema) {
  RecordBatch b;
  b.schema = schema;
  for (const auto& f : schema.fields) b.columns.emplace_back(f.type);
  return b;
}

const Column* RecordBatch::ColumnByName(std::string_view name) const {
  int i = schema.FieldIndex(name);
  return i < 0 ? nullptr : &columns[i];
}

Status RecordBatch::Validate() const {
  if (columns.size() != schema.fields.size()) {
    return Status::Internal(
        fmt::format("batch has {} columns for {} fields", columns.size(), schema.fields.size()));
  }
  for (size_t i = 0; i < columns.size(); ++i) {
    if (!columns[i].type()->Equals(*schema.fields[i].type)) {
      return Status::Internal(fmt::format("column '{}' is {} but its field says {}",
                                          schema.fields[i].name, columns[i].type()->ToString(),
                                          schema.fields[i].type->ToString()));
    }
    if (columns[i].length() != num_rows()) {
      return Status::Internal(fmt::format("column '{}' has {} rows, expected {}",
                                          schema.fields[i].name, columns[i].length(), num_rows()));
    }
  }
  return Status::OK();
}

size_t RecordBatch::ByteSize() const {
  size_t n = 0;
  for (const auto& c : columns) n += c.ByteSize();
  return n;
}

void AppendCellJson(const Column& c, int64_t row, std::string* out) {
  if (c.IsNull(row)) {
    out->append("null");
    return;
  }
  switch (c.type_id()) {
    case TypeId::kNull:
      out->append("null");
      break;
    case TypeId::kBool:
      out->append(c.GetBool(row) ? "true" : "false");
      break;
    case TypeId::kInt32:
    case TypeId::kInt64:
      out->append(std::to_string(c.GetInt(row)));
      break;
    case TypeId::kFloat:
    case TypeId::kDouble:
      AppendJsonDouble(out, c.GetDouble(row));
      break;
    case TypeId::kString:
      AppendJsonString(out, c.GetBytes(row));
      break;
    case TypeId::kBinary: {
      out->push_back('"');
      Base64Append(out, c.GetBytes(row));
      out->push_back('"');
      break;
    }
    case TypeId::kDate32:
      AppendJsonString(out, DateText(c.GetInt(row)));
      break;
    case TypeId::kTimestamp:
      AppendJsonString(out, TimestampText(c.GetInt(row), c.type()->unit(), c.type()->utc()));
      break;
    case TypeId::kDecimal:
      AppendJsonString(out, DecimalText(c.GetInt(row), c.type()->scale()));
      break;
    case TypeId::kList: {
      auto [b, e] = c.ListRange(row);
      out->push_back('[');
      for (int64_t k = b; k < e; ++k) {
        if (k > b) out->push_back(',');
        AppendCellJson(c.child(0), k, out);
      }
      out->push_back(']');
      break;
    }
    case TypeId::kMap: {
      auto [b, e] = c.ListRange(row);
      const Column& entries = c.child(0);
      bool string_keys = entries.child(0).type_id() == TypeId::kString;
      out->push_back(string_keys ? '{' : '[');
      for (int64_t k = b; k < e; ++k) {
        if (k > b) out->push_back(',');
        if (string_keys) {
          AppendJsonString(out, entries.child(0).GetBytes(k));
          out->push_back(':');
          AppendCellJson(entries.child(1), k, out);
        } else {
          AppendCellJson(entries, k, out);
        }
      }
      out->push_back(string_keys ? '}' : ']');
      break;
    }
    case TypeId::kStruct: {
      out->push_back('{');
      const auto& fields = c.type()->fields();
      for (size_t k = 0; k < fields.size(); ++k) {
        if (k) out->push_back(',');
        AppendJsonString(out, fields[k].name);
        out->push_back(':');
        AppendCellJson(c.child(static_cast<int>(k)), row, out);
      }
      out->push_back('}');
      break;
    }
  }
}

void AppendRowJson(const RecordBatch& batch, int64_t row, std::string* out) {
  out->push_back('{');
  for (size_t k = 0; k < batch.columns.size(); ++k) {
    if (k) out->push_back(',');
    AppendJsonString(out, batch.schema.fields[k].name);
    out->push_back(':');
    AppendCellJson(batch.columns[k], row, out);
  }
  out->push_back('}');
}

void AppendCellText(const Column& column, int64_t row, std::string* out) {
  if (column.type_id() == TypeId::kString && column.IsValid(row)) {
    out->append(column.GetBytes(row));
    return;
  }
  AppendCellJson(column, row, out);
}

}  // namespace structflow::table
