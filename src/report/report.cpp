#include "report/report.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "engine/checkpoint.h"
#include "image/image.h"
#include "image/image_value.h"
#include "image/prepared_cache.h"
#include "io/files.h"
#include "io/source.h"
#include "report/html.h"
#include "table/column_path.h"

namespace structflow::report {
namespace {

namespace fs = std::filesystem;
using table::TypeId;

// Distinct values kept per field; past this, new values count as "(other values)".
constexpr size_t kMaxDistinct = 2000;

std::string BaseName(const std::string& path) { return fs::path(path).filename().string(); }

// Flattens the stats JSON into (path, display text) pairs, in the file's order.
void Flatten(simdjson::dom::element e, const std::string& prefix,
             std::vector<std::pair<std::string, std::string>>* out) {
  switch (e.type()) {
    case simdjson::dom::element_type::OBJECT:
      for (auto [k, v] : e.get_object()) {
        Flatten(v, prefix.empty() ? std::string(k) : prefix + "." + std::string(k), out);
      }
      break;
    case simdjson::dom::element_type::ARRAY: {
      std::string text;
      for (auto v : e.get_array()) {
        if (!text.empty()) text += ", ";
        text += simdjson::minify(v);
      }
      out->emplace_back(prefix, text);
      break;
    }
    case simdjson::dom::element_type::STRING:
      out->emplace_back(prefix, std::string(e.get_string().value()));
      break;
    case simdjson::dom::element_type::DOUBLE: {
      double d = e.get_double().value();
      out->emplace_back(prefix,
                        std::fabs(d) >= 100 ? fmt::format("{:.1f}", d) : fmt::format("{:.4g}", d));
      break;
    }
    default:
      out->emplace_back(prefix, simdjson::minify(e));
  }
}

Result<std::vector<std::pair<std::string, std::string>>> ReadStats(const std::string& path) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  auto err = parser.load(path).get(doc);
  if (err) {
    return Status::InvalidArgument(fmt::format("{}: {}", path, simdjson::error_message(err)));
  }
  std::vector<std::pair<std::string, std::string>> out;
  Flatten(doc, "", &out);
  return out;
}

// Per-field statistics of the output column.
void WalkField(const table::Column& col, int64_t i, const std::string& path,
               std::map<std::string, FieldStats>* fields, std::vector<std::string>* order) {
  auto [it, inserted] = fields->try_emplace(path);
  if (inserted) order->push_back(path);
  FieldStats& f = it->second;
  f.type = col.type_id();
  ++f.total;
  if (col.IsNull(i)) return;
  ++f.present;
  switch (col.type_id()) {
    case TypeId::kStruct: {
      const auto& fs = col.type()->fields();
      for (int k = 0; k < col.num_children(); ++k) {
        WalkField(col.child(k), i, path.empty() ? fs[k].name : path + "." + fs[k].name, fields,
                  order);
      }
      return;
    }
    case TypeId::kList: {
      auto [b, e] = col.ListRange(i);
      f.numbers.push_back(static_cast<double>(e - b));  // list length
      for (int64_t j = b; j < e; ++j) WalkField(col.child(0), j, path + "[]", fields, order);
      return;
    }
    case TypeId::kInt32:
    case TypeId::kInt64:
      f.numbers.push_back(static_cast<double>(col.GetInt(i)));
      return;
    case TypeId::kFloat:
    case TypeId::kDouble:
      f.numbers.push_back(col.GetDouble(i));
      return;
    default: {
      std::string text;
      table::AppendCellText(col, i, &text);
      if (text.size() > 80) text = text.substr(0, 77) + "...";
      auto v = f.values.find(text);
      if (v != f.values.end()) {
        ++v->second;
      } else if (f.values.size() < kMaxDistinct) {
        f.values.emplace(std::move(text), 1);
      } else {
        ++f.other_values;
      }
    }
  }
}

bool TypeHasBinary(const table::DataType& t) {
  if (t.id() == TypeId::kBinary) return true;
  for (const auto& f : t.fields()) {
    if (TypeHasBinary(*f.type)) return true;
  }
  return false;
}

// The column to take thumbnails from: the first holding image bytes, else a string column named
// like an image.
std::string FindImageColumn(const table::Schema& schema) {
  for (const auto& f : schema.fields) {
    if (TypeHasBinary(*f.type) && image::CheckImageType(*f.type, f.name).ok()) return f.name;
  }
  for (const auto& f : schema.fields) {
    for (const char* name : {"image", "images", "image_path", "image_url", "path", "file_name"}) {
      if (f.name == name && image::CheckImageType(*f.type, f.name).ok()) return f.name;
    }
  }
  return "";
}

std::string FindQuestionColumn(const table::Schema& schema) {
  for (const char* name : {"question", "prompt", "texts.user", "text", "query"}) {
    auto p = table::ColumnPath::Parse(name);
    if (!p.ok()) continue;
    auto t = p->Resolve(schema);
    if (t.ok() && (*t)->id() == TypeId::kString) return name;
  }
  return "";
}

struct GalleryRow {
  int64_t row = 0;
  std::string question;
  std::string thumbnail;  // data URL, or ""
  std::string thumbnail_error;
};

// Reads the question and the thumbnail of `rows` (sorted) from `file`.
Status ReadGallery(const std::string& file, const std::string& question_col,
                   const std::string& image_col, int side, std::vector<GalleryRow>* rows) {
  std::vector<std::string> columns;
  std::optional<table::ColumnPath> qpath, ipath;
  if (!question_col.empty()) {
    SF_ASSIGN_OR_RAISE(qpath, table::ColumnPath::Parse(question_col));
    columns.push_back(qpath->root());
  }
  if (!image_col.empty()) {
    SF_ASSIGN_OR_RAISE(ipath, table::ColumnPath::Parse(image_col));
    if (std::find(columns.begin(), columns.end(), ipath->root()) == columns.end())
      columns.push_back(ipath->root());
  }
  if (columns.empty() || rows->empty()) return Status::OK();
  SF_ASSIGN_OR_RAISE(auto source, io::OpenSource({file}, io::ReadOptions{columns, 1024}));
  image::ImagePolicy policy;
  policy.max_side = side;
  policy.format = image::OutputFormat::kJpeg;
  policy.quality = 70;
  policy.keep_fitting = false;  // always a small JPEG, whatever the source format
  image::LoadOptions load;
  load.base_dir = fs::absolute(file).parent_path().string();
  size_t next = 0;
  int64_t base = 0;
  while (next < rows->size()) {
    SF_ASSIGN_OR_RAISE(auto batch, source->Next());
    if (!batch) break;
    const int64_t n = batch->num_rows();
    while (next < rows->size() && (*rows)[next].row < base + n) {
      GalleryRow& g = (*rows)[next++];
      const int64_t r = g.row - base;
      if (qpath) {
        if (auto c = qpath->Locate(*batch, r))
          table::AppendCellText(*c->column, c->index, &g.question);
      }
      if (ipath) {
        auto c = ipath->Locate(*batch, r);
        std::vector<image::ImageRef> refs;
        Status st = c ? image::CollectImages(*c->column, c->index, &refs)
                      : Status::InvalidArgument("no image in this row");
        if (st.ok() && refs.empty()) st = Status::InvalidArgument("no image in this row");
        if (st.ok()) {
          std::string storage;
          auto bytes = image::LoadImageBytes(refs[0], load, &storage);
          if (!bytes.ok()) {
            st = bytes.status();
          } else {
            auto prepared = image::Prepare(*bytes, policy);
            if (prepared.ok()) {
              g.thumbnail = image::DataUrl(*prepared);
            } else {
              st = prepared.status();
            }
          }
        }
        if (!st.ok()) g.thumbnail_error = st.message();
      }
    }
    base += n;
  }
  return Status::OK();
}

}  // namespace

Result<std::string> BuildReport(const ReportOptions& options, ReportSummary* summary) {
  if (options.results.empty() || options.results.size() > 2) {
    return Status::InvalidArgument("give one results file, or two of the same rows to compare");
  }
  ReportData data;
  data.options = options;
  const bool scoring = !options.eval.key.empty();
  for (size_t i = 0; i < options.results.size(); ++i) {
    const std::string& file = options.results[i];
    RunData run;
    run.file = file;
    run.label =
        options.labels.size() == options.results.size() ? options.labels[i] : BaseName(file);
    SF_ASSIGN_OR_RAISE(run.rows, engine::ReadOutcomes(file, options.eval));
    run.score = engine::ScoreOutcomes(file, run.rows, options.eval);
    // The stats file `run` writes beside its output.
    const std::string stats = file + ".stats.json";
    if (fs::exists(stats)) {
      auto s = ReadStats(stats);
      if (s.ok()) {
        run.stats = std::move(*s);
      } else {
        data.notes.push_back(fmt::format("{} could not be read: {}", stats, s.status().message()));
      }
    } else {
      data.notes.push_back(fmt::format(
          "no {} beside {}: the summary shows only what the results file holds (the stats file "
          "is written by `structflow run`)",
          BaseName(stats), BaseName(file)));
    }
    const std::string checkpoint = file + ".checkpoint";
    if (fs::exists(checkpoint)) {
      auto command = engine::Checkpoint::ReadMeta(checkpoint, "command");
      if (command.ok() && command->has_value()) run.command = **command;
      auto t = engine::Checkpoint::ReadTimings(checkpoint);
      if (t.ok()) {
        run.timings = std::move(*t);
        if (run.timings.empty()) {
          data.notes.push_back(fmt::format(
              "{} holds no per-row timings (written by an older structflow): no latency or "
              "throughput chart for {}; run the job again to record them",
              BaseName(checkpoint), run.label));
        }
      } else {
        data.notes.push_back(fmt::format("{}: {}", checkpoint, t.status().message()));
      }
    } else {
      data.notes.push_back(fmt::format(
          "no {} beside {}: no latency or throughput chart for it (the checkpoint holds each "
          "row's finish time and latency)",
          BaseName(checkpoint), BaseName(file)));
    }
    // The distribution of each output field, over the rows that succeeded.
    {
      SF_ASSIGN_OR_RAISE(auto pred, table::ColumnPath::Parse(options.eval.pred));
      const std::string root = pred.root();
      SF_ASSIGN_OR_RAISE(auto source, io::OpenSource({file}, io::ReadOptions{{root}, 1024}));
      int64_t row = 0;
      while (true) {
        SF_ASSIGN_OR_RAISE(auto batch, source->Next());
        if (!batch) break;
        const table::Column* col = batch->ColumnByName(root);
        for (int64_t r = 0; r < batch->num_rows(); ++r, ++row) {
          if (col == nullptr || run.rows[row].failed) continue;
          WalkField(*col, r, root, &run.fields, &run.field_order);
        }
      }
    }
    data.runs.push_back(std::move(run));
  }
  if (data.runs.size() == 2) {
    SF_ASSIGN_OR_RAISE(auto c, engine::Compare(data.runs[0].rows, data.runs[1].rows));
    data.comparison = c;
  }

  // The gallery: flipped rows of two runs (wrong with the first run first), or the wrong rows of
  // one run.
  std::vector<int64_t> candidates;
  if (scoring) {
    const auto& a = data.runs[0].rows;
    if (data.runs.size() == 2) {
      const auto& b = data.runs[1].rows;
      for (int pass = 0; pass < 2; ++pass) {
        for (size_t i = 0; i < a.size(); ++i) {
          if (!a[i].scored() || !b[i].scored() || a[i].correct() == b[i].correct()) continue;
          if (a[i].correct() == (pass == 1)) candidates.push_back(static_cast<int64_t>(i));
        }
      }
    } else {
      for (size_t i = 0; i < a.size(); ++i) {
        if (a[i].scored() && !a[i].correct()) candidates.push_back(static_cast<int64_t>(i));
      }
    }
  }
  data.gallery_candidates = static_cast<int64_t>(candidates.size());
  std::vector<int64_t> picked;
  if (static_cast<int64_t>(candidates.size()) > options.gallery_max && options.gallery_max > 0) {
    // Evenly spaced over the ordered list: keeps the share of each direction and the order.
    for (int64_t k = 0; k < options.gallery_max; ++k) {
      picked.push_back(candidates[static_cast<size_t>(k * static_cast<int64_t>(candidates.size()) /
                                                      options.gallery_max)]);
    }
  } else if (options.gallery_max > 0) {
    picked = candidates;
  }
  // Question and image: from the first file that has them.
  std::string image_col = options.image, question_col = options.question;
  std::string image_file, question_file;
  for (const auto& run : data.runs) {
    SF_ASSIGN_OR_RAISE(auto source, io::OpenSource({run.file}, io::ReadOptions{{}, 1}));
    const table::Schema& schema = source->schema();
    if (options.image.empty() && image_col.empty()) {
      image_col = FindImageColumn(schema);
      if (!image_col.empty()) image_file = run.file;
    } else if (!options.image.empty() && image_file.empty()) {
      auto p = table::ColumnPath::Parse(options.image);
      if (p.ok() && p->Resolve(schema).ok()) image_file = run.file;
    }
    if (options.question.empty() && question_col.empty()) {
      question_col = FindQuestionColumn(schema);
      if (!question_col.empty()) question_file = run.file;
    } else if (!options.question.empty() && question_file.empty()) {
      auto p = table::ColumnPath::Parse(options.question);
      if (p.ok() && p->Resolve(schema).ok()) question_file = run.file;
    }
  }
  if (!options.image.empty() && image_file.empty()) {
    return Status::InvalidArgument(fmt::format(
        "--image {}: no results file has this column; keep images in the output with `run "
        "--keep-binary`, or name a column that holds images or their paths",
        options.image));
  }
  if (!options.question.empty() && question_file.empty()) {
    return Status::InvalidArgument(
        fmt::format("--question {}: no results file has this column", options.question));
  }
  if (image_file.empty()) image_col.clear();
  if (question_file.empty()) question_col.clear();
  std::vector<GalleryRow> gallery;
  for (int64_t r : picked) gallery.push_back(GalleryRow{r, "", "", ""});
  std::sort(gallery.begin(), gallery.end(),
            [](const GalleryRow& x, const GalleryRow& y) { return x.row < y.row; });
  if (!question_file.empty() && question_file == image_file) {
    SF_RETURN_NOT_OK(
        ReadGallery(question_file, question_col, image_col, options.thumbnail_side, &gallery));
  } else {
    if (!question_file.empty())
      SF_RETURN_NOT_OK(ReadGallery(question_file, question_col, "", 0, &gallery));
    if (!image_file.empty())
      SF_RETURN_NOT_OK(ReadGallery(image_file, "", image_col, options.thumbnail_side, &gallery));
  }
  std::unordered_map<int64_t, size_t> at;
  for (size_t i = 0; i < gallery.size(); ++i) at[gallery[i].row] = i;
  for (int64_t r : picked) {
    GalleryItem item;
    const GalleryRow& g = gallery[at[r]];
    item.row = r;
    item.question = g.question;
    item.thumbnail = g.thumbnail;
    item.thumbnail_error = g.thumbnail_error;
    data.gallery.push_back(std::move(item));
  }
  if (image_col.empty() && scoring) {
    data.notes.push_back(
        "the results hold no image column, so the gallery has no thumbnails: `structflow run` "
        "drops binary columns unless given --keep-binary; or pass --image COLUMN");
  }
  data.image_column = image_col;
  data.question_column = question_col;

  std::string html = RenderHtml(data);
  if (summary) {
    summary->gallery_candidates = data.gallery_candidates;
    summary->gallery_shown = static_cast<int64_t>(data.gallery.size());
    summary->thumbnails = 0;
    for (const auto& g : data.gallery) summary->thumbnails += g.thumbnail.empty() ? 0 : 1;
    summary->image_column = image_col;
    summary->question_column = question_col;
    summary->notes = data.notes;
  }
  return html;
}

Result<int64_t> WriteReport(const ReportOptions& options, const std::string& path,
                            ReportSummary* summary) {
  SF_ASSIGN_OR_RAISE(std::string html, BuildReport(options, summary));
  SF_ASSIGN_OR_RAISE(auto file, io::AtomicFile::Create(path));
  SF_RETURN_NOT_OK(file->Append(html));
  SF_RETURN_NOT_OK(file->Commit());
  return static_cast<int64_t>(html.size());
}

}  // namespace structflow::report
