// JSON Lines reader (simdjson DOM, one line at a time from a chunked LineReader, so memory is
// bounded by a batch, not the file) and writer.
#include <fmt/format.h>
#include <simdjson.h>

#include <limits>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "common/base64.h"
#include "common/json_writer.h"
#include "common/text.h"
#include "io/files.h"
#include "io/formats.h"
#include "table/record_batch.h"

namespace structflow::io {
namespace {

using simdjson::dom::element;
using simdjson::dom::element_type;
using table::DataType;
using table::TypeId;
using table::TypePtr;

bool IsBlank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t' && c != '\r') return false;
  }
  return true;
}

// A piece of the input quoted in a message: cut, control characters escaped.
std::string Abbreviate(const std::string& s, size_t max = 80) { return QuoteInput(s, max); }

std::string JsonText(element v) { return simdjson::minify(v); }

// ------------------------------------------------------------------------------------ inference

// What the sampled values of one column (or nested value) look like so far.
struct Node {
  enum class Kind { kNull, kBool, kInt, kDouble, kString, kList, kStruct };
  Kind kind = Kind::kNull;
  TypePtr forced;  // from a type override: not inferred
  std::unique_ptr<Node> element;
  std::vector<std::string> names;
  std::vector<std::unique_ptr<Node>> children;
  std::unordered_map<std::string, size_t> index;

  Node* Child(std::string_view name) {
    auto it = index.find(std::string(name));
    if (it != index.end()) return children[it->second].get();
    index.emplace(std::string(name), children.size());
    names.emplace_back(name);
    children.push_back(std::make_unique<Node>());
    return children.back().get();
  }
  std::unique_ptr<Node> Clone() const {
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->forced = forced;
    if (element) n->element = element->Clone();
    n->names = names;
    n->index = index;
    for (const auto& c : children) n->children.push_back(c->Clone());
    return n;
  }
};

Node::Kind KindOf(element v) {
  switch (v.type()) {
    case element_type::NULL_VALUE:
      return Node::Kind::kNull;
    case element_type::BOOL:
      return Node::Kind::kBool;
    case element_type::INT64:
      return Node::Kind::kInt;
    case element_type::UINT64:
      // Beyond int64: keep it exact as text rather than rounding it to a double.
      return Node::Kind::kString;
    case element_type::DOUBLE:
      return Node::Kind::kDouble;
    case element_type::STRING:
      return Node::Kind::kString;
    case element_type::ARRAY:
      return Node::Kind::kList;
    case element_type::OBJECT:
      return Node::Kind::kStruct;
  }
  return Node::Kind::kString;
}

void Observe(Node* n, element v) {
  if (n->forced) return;
  Node::Kind k = KindOf(v);
  if (k == Node::Kind::kNull || n->kind == Node::Kind::kString) return;
  if (n->kind == Node::Kind::kNull) {
    n->kind = k;
  } else if (n->kind != k) {
    bool numeric = (n->kind == Node::Kind::kInt || n->kind == Node::Kind::kDouble) &&
                   (k == Node::Kind::kInt || k == Node::Kind::kDouble);
    n->kind = numeric ? Node::Kind::kDouble : Node::Kind::kString;
    n->element.reset();
    n->children.clear();
    n->names.clear();
    n->index.clear();
    return;
  }
  if (k == Node::Kind::kList) {
    simdjson::dom::array arr = v.get_array().value_unsafe();
    for (element e : arr) {
      if (!n->element) n->element = std::make_unique<Node>();
      Observe(n->element.get(), e);
    }
  } else if (k == Node::Kind::kStruct) {
    simdjson::dom::object obj = v.get_object().value_unsafe();
    for (auto kv : obj) Observe(n->Child(kv.key), kv.value);
  }
}

TypePtr ToType(const Node& n) {
  if (n.forced) return n.forced;
  switch (n.kind) {
    case Node::Kind::kBool:
      return DataType::Bool();
    case Node::Kind::kInt:
      return DataType::Int64();
    case Node::Kind::kDouble:
      return DataType::Double();
    case Node::Kind::kList:
      return DataType::List(n.element ? ToType(*n.element) : DataType::String());
    case Node::Kind::kStruct: {
      if (n.children.empty()) return DataType::String();  // only ever {}: keep the JSON text
      std::vector<table::Field> fields;
      for (size_t i = 0; i < n.children.size(); ++i) {
        fields.push_back({n.names[i], ToType(*n.children[i])});
      }
      return DataType::Struct(std::move(fields));
    }
    case Node::Kind::kNull:  // null throughout the sample: a string column takes any later value
    case Node::Kind::kString:
      return DataType::String();
  }
  return DataType::String();
}

// Merges the inference of another file into `a`; types that only unify as JSON text fail.
Status Merge(Node* a, const Node& b, const std::string& path, const std::string& a_file,
             const std::string& b_file, const std::string& root) {
  if (a->forced || b.forced || b.kind == Node::Kind::kNull) return Status::OK();
  if (a->kind == Node::Kind::kNull) {
    *a = std::move(*b.Clone());
    return Status::OK();
  }
  if (a->kind == b.kind) {
    if (a->kind == Node::Kind::kList && b.element) {
      if (!a->element) {
        a->element = b.element->Clone();
      } else {
        SF_RETURN_NOT_OK(Merge(a->element.get(), *b.element, path + "[]", a_file, b_file, root));
      }
    } else if (a->kind == Node::Kind::kStruct) {
      for (size_t i = 0; i < b.children.size(); ++i) {
        SF_RETURN_NOT_OK(Merge(a->Child(b.names[i]), *b.children[i], path + "." + b.names[i],
                               a_file, b_file, root));
      }
    }
    return Status::OK();
  }
  bool numeric = (a->kind == Node::Kind::kInt || a->kind == Node::Kind::kDouble) &&
                 (b.kind == Node::Kind::kInt || b.kind == Node::Kind::kDouble);
  if (numeric) {
    a->kind = Node::Kind::kDouble;
    return Status::OK();
  }
  return Status::InvalidArgument(fmt::format(
      "inputs '{}' and '{}' have different schemas: column '{}' is {} in '{}' but {} in '{}'; "
      "read them separately, or make the column text in both (--schema-override {}=string)",
      a_file, b_file, path, ToType(*a)->ToString(), a_file, ToType(b)->ToString(), b_file, root));
}

// `*malformed` is set when the line is not a JSON object (invalid JSON, a cut last line, a bare
// value): what ReadOptions::bad_lines_path skips. A file that is one JSON array is not.
Status ParseLine(simdjson::dom::parser* parser, std::string_view line, const std::string& file,
                 int64_t line_no, element* out, bool* malformed) {
  *malformed = false;
  auto r = parser->parse(line.data(), line.size(), false);
  if (r.error() && line_no == 1 && line.find_first_not_of(" \t") != std::string_view::npos &&
      line[line.find_first_not_of(" \t")] == '[') {
    return Status::InvalidArgument(fmt::format(
        "{}:1: the file is one JSON array, not JSON Lines (one object per line); convert it "
        "first, e.g. jq -c '.[]' {} > data.jsonl",
        file, file));
  }
  if (r.error()) {
    *malformed = true;
    return Status::Corrupt(fmt::format("{}:{}: invalid JSON ({}): {}; fix or remove the line", file,
                                       line_no, simdjson::error_message(r.error()),
                                       Abbreviate(std::string(line))));
  }
  *out = r.value_unsafe();
  if (out->type() != element_type::OBJECT) {
    if (line_no == 1 && out->type() == element_type::ARRAY) {
      return Status::InvalidArgument(fmt::format(
          "{}:1: the file is one JSON array, not JSON Lines (one object per line); convert it "
          "first, e.g. jq -c '.[]' {} > data.jsonl",
          file, file));
    }
    *malformed = true;
    return Status::InvalidArgument(
        fmt::format("{}:{}: expected one JSON object per line, got {}; wrap the value in an object",
                    file, line_no, Abbreviate(JsonText(*out))));
  }
  return Status::OK();
}

struct Inferred {
  Node root;  // a struct node: the top-level columns in order of first appearance
  std::vector<std::string> all_names;  // every top-level key sampled, projected or not
  int64_t rows = 0;                    // rows sampled (malformed lines skipped not counted)
  bool complete = false;               // the sample reached the end: `rows` is the file's count
};

// The lines a read skipped (ReadOptions::bad_lines_path), shared by the file sources of one
// OpenJsonlSource. Entries are kept in memory (bounded) and the file is written whole when the
// read reaches the end of its last input, or at destruction when a read cut short found any, so
// a pass never leaves half a list and passes over the same rows write the same file.
class BadLineLog {
 public:
  static constexpr size_t kMaxBytes = 64 << 20;

  BadLineLog(std::string path, size_t num_files) : path_(std::move(path)), files_(num_files) {}
  ~BadLineLog() {
    if (!published_ && count_ > 0) (void)Publish();
  }

  Status Add(const std::string& file, int64_t line_no, const Status& why, std::string_view line) {
    ++count_;
    if (text_.size() + line.size() > kMaxBytes) {
      return Status::InvalidArgument(fmt::format(
          "{}:{}: {} malformed lines ({} MB) skipped so far; this does not look like JSON Lines "
          "(one JSON object per line): check the file's format",
          file, line_no, count_, kMaxBytes >> 20));
    }
    text_ += "{\"file\":";
    AppendJsonString(&text_, file);
    text_ += fmt::format(",\"line\":{},\"error\":", line_no);
    AppendJsonString(&text_, why.message());
    text_ += ",\"text\":";
    AppendJsonString(&text_, line);
    text_ += "}\n";
    return Status::OK();
  }
  // One input file read to its end; after the last, the list is written.
  Status FileDone() {
    if (++done_ < files_ || published_) return Status::OK();
    return Publish();
  }
  int64_t count() const { return count_; }

 private:
  Status Publish() {
    published_ = true;
    // AtomicFile's temporary name is per process: two reads of one input at once (the engine
    // may scan an input from two threads) take turns.
    static std::mutex mu;
    std::lock_guard lock(mu);
    auto file = AtomicFile::Create(path_);
    if (!file.ok()) return file.status();
    SF_RETURN_NOT_OK((*file)->Append(text_));
    return (*file)->Commit();
  }

  std::string path_;
  size_t files_;
  size_t done_ = 0;
  int64_t count_ = 0;
  bool published_ = false;
  std::string text_;
};

Result<Inferred> InferFile(const std::string& file, const ReadOptions& options,
                           const std::vector<std::pair<std::string, TypePtr>>& overrides) {
  Inferred inf;
  inf.root.kind = Node::Kind::kStruct;
  std::unordered_map<std::string, TypePtr> forced(overrides.begin(), overrides.end());
  std::unordered_map<std::string_view, bool> wanted;
  for (const auto& c : options.columns) wanted.emplace(c, true);
  SF_ASSIGN_OR_RAISE(auto reader, LineReader::Open(file));
  simdjson::dom::parser parser;
  int64_t sampled = 0;
  std::string_view line;
  std::unordered_set<std::string> seen_names;  // sampled keys outside the projection
  while (sampled < options.infer_rows) {
    SF_ASSIGN_OR_RAISE(bool more, reader->Next(&line));
    if (!more) {
      inf.complete = true;
      break;
    }
    if (IsBlank(line)) continue;
    element row;
    bool malformed;
    Status parsed = ParseLine(&parser, line, file, reader->line_number(), &row, &malformed);
    if (!parsed.ok() && malformed && !options.bad_lines_path.empty()) continue;
    SF_RETURN_NOT_OK(parsed);
    ++sampled;
    simdjson::dom::object obj = row.get_object().value_unsafe();
    for (auto kv : obj) {
      if (!wanted.empty() && !wanted.count(kv.key)) {
        if (seen_names.emplace(kv.key).second) inf.all_names.emplace_back(kv.key);
        continue;
      }
      if (!inf.root.index.count(std::string(kv.key))) inf.all_names.emplace_back(kv.key);
      bool is_new = !inf.root.index.count(std::string(kv.key));
      Node* child = inf.root.Child(kv.key);
      if (is_new) {
        auto f = forced.find(std::string(kv.key));
        if (f != forced.end()) child->forced = f->second;
      }
      Observe(child, kv.value);
    }
  }
  inf.rows = sampled;
  // An empty file has no columns to check; the caller says when every input is empty.
  if (sampled == 0) return inf;
  std::string names;
  for (const auto& n : inf.all_names) names += (names.empty() ? "" : ", ") + n;
  for (const auto& c : options.columns) {
    if (!inf.root.index.count(c)) {
      return Status::NotFound(
          fmt::format("column '{}' is not in '{}' (first {} lines); its "
                      "columns are: {}",
                      c, file, options.infer_rows, names.empty() ? "(none)" : names));
    }
  }
  for (const auto& [name, type] : overrides) {
    if (!inf.root.index.count(name) && (wanted.empty() || wanted.count(name))) {
      return Status::NotFound(
          fmt::format("type override '{}={}' names no column of '{}' (first {} lines); its "
                      "columns are: {}",
                      name, type->ToString(), file, options.infer_rows, names));
    }
  }
  return inf;
}

table::Schema SchemaOf(const Node& root) {
  table::Schema schema;
  for (size_t i = 0; i < root.children.size(); ++i) {
    schema.fields.push_back({root.names[i], ToType(*root.children[i])});
  }
  return schema;
}

// ----------------------------------------------------------------------------------- conversion

// How to put JSON values into a column of one type; struct field lookups precomputed.
struct Plan {
  TypeId id = TypeId::kString;
  std::string type_name;
  std::unordered_map<std::string_view, int> fields;  // struct: key -> child
  std::vector<Plan> children;
};

Plan MakePlan(const DataType& type) {
  Plan p;
  p.id = type.id();
  p.type_name = type.ToString();
  for (size_t i = 0; i < type.fields().size(); ++i) {
    p.children.push_back(MakePlan(*type.fields()[i].type));
    if (type.id() == TypeId::kStruct) p.fields.emplace(type.fields()[i].name, static_cast<int>(i));
  }
  return p;
}

// Why a value did not fit; `path` is built from the leaf up.
struct Mismatch {
  std::string path;
  std::string problem;
};

bool AppendValue(table::Column* col, const Plan& plan, element v, Mismatch* err);

bool AppendObject(table::Column* col, const Plan& plan, element v, Mismatch* err) {
  std::vector<bool> seen(plan.children.size(), false);
  simdjson::dom::object obj = v.get_object().value_unsafe();
  for (auto kv : obj) {
    auto it = plan.fields.find(kv.key);
    if (it == plan.fields.end()) {
      err->path = "." + std::string(kv.key);
      err->problem = "is a key the sampled lines never had";
      return false;
    }
    if (seen[it->second]) {
      err->path = "." + std::string(kv.key);
      err->problem = "appears twice in one object";
      return false;
    }
    seen[it->second] = true;
    if (!AppendValue(&col->child(it->second), plan.children[it->second], kv.value, err)) {
      err->path = "." + std::string(kv.key) + err->path;
      return false;
    }
  }
  for (size_t i = 0; i < seen.size(); ++i) {
    if (!seen[i]) col->child(static_cast<int>(i)).AppendNull();
  }
  col->CloseStruct();
  return true;
}

bool AppendValue(table::Column* col, const Plan& plan, element v, Mismatch* err) {
  element_type t = v.type();
  if (t == element_type::NULL_VALUE) {
    col->AppendNull();
    return true;
  }
  switch (plan.id) {
    case TypeId::kBool:
      if (t == element_type::BOOL) {
        col->AppendBool(v.get_bool().value_unsafe());
        return true;
      }
      break;
    case TypeId::kInt64:
      if (t == element_type::INT64) {
        col->AppendInt(v.get_int64().value_unsafe());
        return true;
      }
      break;
    case TypeId::kDouble:
      if (t == element_type::INT64) {
        col->AppendDouble(static_cast<double>(v.get_int64().value_unsafe()));
        return true;
      }
      if (t == element_type::UINT64) {
        col->AppendDouble(static_cast<double>(v.get_uint64().value_unsafe()));
        return true;
      }
      if (t == element_type::DOUBLE) {
        col->AppendDouble(v.get_double().value_unsafe());
        return true;
      }
      break;
    case TypeId::kString:
      if (t == element_type::STRING) {
        col->AppendBytes(v.get_string().value_unsafe());
      } else {
        col->AppendBytes(JsonText(v));
      }
      return true;
    case TypeId::kBinary:
      if (t == element_type::STRING) {
        std::string bytes;
        if (Base64Decode(v.get_string().value_unsafe(), &bytes)) {
          col->AppendBytes(bytes);
          return true;
        }
        err->problem = "is not base64 text";
        return false;
      }
      break;
    case TypeId::kList:
      if (t == element_type::ARRAY) {
        int64_t i = 0;
        simdjson::dom::array arr = v.get_array().value_unsafe();
        for (element e : arr) {
          if (!AppendValue(&col->child(0), plan.children[0], e, err)) {
            err->path = fmt::format("[{}]{}", i, err->path);
            return false;
          }
          ++i;
        }
        col->CloseList();
        return true;
      }
      break;
    case TypeId::kStruct:
      if (t == element_type::OBJECT) return AppendObject(col, plan, v, err);
      break;
    default:
      break;
  }
  err->problem =
      fmt::format("holds {}, which does not fit {}", Abbreviate(JsonText(v)), plan.type_name);
  return false;
}

// ------------------------------------------------------------------------------------- source

class JsonlFileSource : public Source {
 public:
  JsonlFileSource(std::string file, table::Schema schema, std::unique_ptr<LineReader> reader,
                  ReadOptions options, std::shared_ptr<BadLineLog> bad_lines)
      : file_(std::move(file)),
        schema_(std::move(schema)),
        reader_(std::move(reader)),
        options_(std::move(options)),
        bad_lines_(std::move(bad_lines)) {
    for (size_t i = 0; i < schema_.fields.size(); ++i) {
      plans_.push_back(MakePlan(*schema_.fields[i].type));
      index_.emplace(schema_.fields[i].name, static_cast<int>(i));
    }
  }

  const table::Schema& schema() const override { return schema_; }
  std::optional<int64_t> num_rows() const override { return std::nullopt; }
  std::string base_dir() const override { return ParentDir(file_); }
  int64_t skipped_rows() const override { return skipped_; }

  Result<std::optional<table::RecordBatch>> Next() override {
    if (done_) return std::optional<table::RecordBatch>();
    table::RecordBatch batch = table::RecordBatch::Empty(schema_);
    std::vector<bool> seen(schema_.fields.size());
    std::string_view line;
    int64_t rows = 0;
    while (rows < options_.batch_rows) {
      SF_ASSIGN_OR_RAISE(bool more, reader_->Next(&line));
      if (!more) {
        done_ = true;
        if (bad_lines_) SF_RETURN_NOT_OK(bad_lines_->FileDone());
        break;
      }
      if (IsBlank(line)) continue;
      int64_t line_no = reader_->line_number();
      element row;
      bool malformed;
      Status parsed = ParseLine(&parser_, line, file_, line_no, &row, &malformed);
      if (!parsed.ok() && malformed && bad_lines_) {
        ++skipped_;
        SF_RETURN_NOT_OK(bad_lines_->Add(file_, line_no, parsed, line));
        continue;
      }
      SF_RETURN_NOT_OK(parsed);
      std::fill(seen.begin(), seen.end(), false);
      simdjson::dom::object obj = row.get_object().value_unsafe();
      for (auto kv : obj) {
        auto it = index_.find(kv.key);
        if (it == index_.end()) {
          if (!options_.columns.empty()) continue;  // projected away
          return Fail(line_no, std::string(kv.key), {"", "is a column the sampled lines never had"},
                      std::string(kv.key));
        }
        int c = it->second;
        if (seen[c]) {
          return Fail(line_no, std::string(kv.key), {"", "appears twice in one object"},
                      std::string(kv.key));
        }
        seen[c] = true;
        Mismatch err;
        if (!AppendValue(&batch.columns[c], plans_[c], kv.value, &err)) {
          return Fail(line_no, std::string(kv.key) + err.path, err, std::string(kv.key));
        }
      }
      for (size_t c = 0; c < seen.size(); ++c) {
        if (!seen[c]) batch.columns[c].AppendNull();
      }
      ++rows;
    }
    if (rows == 0) return std::optional<table::RecordBatch>();
    return std::optional<table::RecordBatch>(std::move(batch));
  }

 private:
  Status Fail(int64_t line_no, const std::string& path, const Mismatch& err,
              const std::string& root) {
    done_ = true;
    return Status::InvalidArgument(fmt::format(
        "{}:{}: column '{}' {} (types were inferred from the first {} lines); fix: sample more "
        "lines (--infer-rows N, ReadOptions::infer_rows) or keep the column as JSON text "
        "(--schema-override {}=string)",
        file_, line_no, path, err.problem, options_.infer_rows, root));
  }

  std::string file_;
  table::Schema schema_;
  std::unique_ptr<LineReader> reader_;
  ReadOptions options_;
  simdjson::dom::parser parser_;
  std::vector<Plan> plans_;
  std::unordered_map<std::string_view, int> index_;
  std::shared_ptr<BadLineLog> bad_lines_;  // null: a malformed line stops the read
  int64_t skipped_ = 0;
  bool done_ = false;
};

// -------------------------------------------------------------------------------------- sink

class JsonlSink : public TextRowSink {
 public:
  JsonlSink(table::Schema schema, std::unique_ptr<AtomicFile> file)
      : TextRowSink(std::move(schema), std::move(file), "") {}

 private:
  void AppendRow(const table::RecordBatch& batch, int64_t row, std::string* out) override {
    table::AppendRowJson(batch, row, out);
    out->push_back('\n');
  }
};

}  // namespace

Result<table::Schema> InferJsonlSchema(const std::string& file, const ReadOptions& options) {
  ReadOptions all = options;
  all.columns.clear();
  SF_ASSIGN_OR_RAISE(auto overrides, ParseTypeOverrides(options.type_overrides));
  SF_ASSIGN_OR_RAISE(Inferred inf, InferFile(file, all, overrides));
  return SchemaOf(inf.root);
}

Result<std::unique_ptr<Source>> OpenJsonlSource(const std::vector<std::string>& files,
                                                const ReadOptions& options) {
  if (files.empty()) return Status::InvalidArgument("no JSONL file given");
  if (options.infer_rows <= 0) {
    return Status::InvalidArgument(
        fmt::format("infer_rows must be positive, got {}", options.infer_rows));
  }
  SF_ASSIGN_OR_RAISE(auto overrides, ParseTypeOverrides(options.type_overrides));
  // Files with no rows (an empty shard) take no part in the schema; when every file is empty
  // there is nothing to read, which is said as such (not as a missing column).
  std::vector<Inferred> inferred;
  std::vector<size_t> nonempty;
  std::optional<int64_t> total = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    SF_ASSIGN_OR_RAISE(Inferred inf, InferFile(files[i], options, overrides));
    if (inf.complete && total) {
      *total += inf.rows;
    } else {
      total.reset();
    }
    if (inf.rows > 0) nonempty.push_back(i);
    inferred.push_back(std::move(inf));
  }
  if (nonempty.empty()) {
    return Status::InvalidArgument(
        fmt::format("the input has no rows: {} no JSON object on any line{}; check that the file{} "
                    "written completely",
                    files.size() == 1 ? fmt::format("'{}' has", files[0])
                                      : fmt::format("none of the {} files ('{}' ... '{}') has",
                                                    files.size(), files.front(), files.back()),
                    options.bad_lines_path.empty() ? "" : " that is not malformed",
                    files.size() == 1 ? " was" : "s were"));
  }
  const std::string& first_file = files[nonempty[0]];
  Inferred& first = inferred[nonempty[0]];
  for (size_t j = 1; j < nonempty.size(); ++j) {
    const std::string& file = files[nonempty[j]];
    Inferred& other = inferred[nonempty[j]];
    // Top-level columns must match; nested types unify.
    for (const auto& n : first.root.names) {
      if (!other.root.index.count(n)) {
        return Status::InvalidArgument(fmt::format(
            "inputs '{}' and '{}' have different schemas: column '{}' is in '{}' but not in the "
            "first {} lines of '{}'; read them separately or select common columns (--columns)",
            first_file, file, n, first_file, options.infer_rows, file));
      }
    }
    for (const auto& n : other.root.names) {
      if (!first.root.index.count(n)) {
        return Status::InvalidArgument(fmt::format(
            "inputs '{}' and '{}' have different schemas: column '{}' is in '{}' but not in the "
            "first {} lines of '{}'; read them separately or select common columns (--columns)",
            first_file, file, n, file, options.infer_rows, first_file));
      }
    }
    for (size_t k = 0; k < other.root.names.size(); ++k) {
      const std::string& n = other.root.names[k];
      SF_RETURN_NOT_OK(Merge(first.root.Child(n), *other.root.children[k], n, first_file, file, n));
    }
  }
  SF_ASSIGN_OR_RAISE(
      table::Schema schema,
      ProjectSchema(SchemaOf(first.root), options.columns,
                    fmt::format("'{}' (first {} lines)", first_file, options.infer_rows)));
  // One log per read (each OpenJsonlSource call is one pass over the files).
  std::shared_ptr<BadLineLog> bad_lines;
  if (!options.bad_lines_path.empty()) {
    bad_lines = std::make_shared<BadLineLog>(options.bad_lines_path, files.size());
  }
  auto open = [schema, options,
               bad_lines](const std::string& path) -> Result<std::unique_ptr<Source>> {
    SF_ASSIGN_OR_RAISE(auto reader, LineReader::Open(path));
    return std::unique_ptr<Source>(
        new JsonlFileSource(path, schema, std::move(reader), options, bad_lines));
  };
  // Files that fit in the inference sample were read whole: their row count is known (a
  // progress total from the start, and an empty input said before any request).
  return std::unique_ptr<Source>(
      new MultiFileSource(schema, files, std::move(open), total, ParentDir(files[0])));
}

Result<std::unique_ptr<Sink>> OpenJsonlSink(const std::string& path, const table::Schema& schema) {
  SF_ASSIGN_OR_RAISE(auto file, AtomicFile::Create(path));
  return std::unique_ptr<Sink>(new JsonlSink(schema, std::move(file)));
}

}  // namespace structflow::io
