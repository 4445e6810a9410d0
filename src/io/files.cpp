#include "io/files.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <glob.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

namespace structflow::io {
namespace fs = std::filesystem;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Extension(std::string_view path) {
  size_t slash = path.find_last_of('/');
  size_t dot = path.find_last_of('.');
  if (dot == std::string_view::npos || (slash != std::string_view::npos && dot < slash)) return "";
  return Lower(path.substr(dot + 1));
}

bool HasGlobChars(std::string_view s) { return s.find_first_of("*?[") != std::string_view::npos; }

std::string Errno() { return std::strerror(errno); }

// A folder: an image folder when it holds images anywhere below it, else its data files.
Status ExpandFolder(const std::string& dir, std::vector<std::pair<Format, std::string>>* out) {
  std::vector<std::string> data;
  bool has_images = false;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(
           dir, fs::directory_options::follow_directory_symlink, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    std::string p = it->path().string();
    if (IsImagePath(p)) {
      has_images = true;
      break;
    }
    if (FormatFromPath(p) != Format::kUnknown) data.push_back(p);
  }
  if (ec) return Status::IOError(fmt::format("cannot list folder '{}': {}", dir, ec.message()));
  if (has_images) {
    out->emplace_back(Format::kImageFolder, dir);
    return Status::OK();
  }
  if (data.empty()) {
    return Status::NotFound(
        fmt::format("folder '{}' holds no .parquet, .jsonl, .csv or image files; point at the "
                    "folder that holds the data",
                    dir));
  }
  std::sort(data.begin(), data.end());
  for (auto& p : data) out->emplace_back(FormatFromPath(p), std::move(p));
  return Status::OK();
}

Status ExpandPath(const std::string& path, std::string_view given,
                  std::vector<std::pair<Format, std::string>>* out) {
  std::error_code ec;
  auto st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    return Status::NotFound(fmt::format(
        "input '{}' does not exist (working directory {}); check the path and its spelling", given,
        fs::current_path(ec).string()));
  }
  if (fs::is_directory(st)) return ExpandFolder(path, out);
  Format f = FormatFromPath(path);
  if (f == Format::kUnknown) {
    return Status::InvalidArgument(fmt::format(
        "cannot tell the format of '{}' from its extension; name it .parquet, .jsonl (or "
        ".ndjson) or .csv, or pass the folder of images that holds it",
        path));
  }
  out->emplace_back(f, path);
  return Status::OK();
}

}  // namespace

std::string_view FormatName(Format format) {
  switch (format) {
    case Format::kParquet:
      return "parquet";
    case Format::kJsonl:
      return "jsonl";
    case Format::kCsv:
      return "csv";
    case Format::kImageFolder:
      return "image folder";
    case Format::kUnknown:
      break;
  }
  return "unknown";
}

Format FormatFromPath(std::string_view path) {
  std::string ext = Extension(path);
  if (ext == "parquet") return Format::kParquet;
  if (ext == "jsonl" || ext == "ndjson" || ext == "json") return Format::kJsonl;
  if (ext == "csv") return Format::kCsv;
  return Format::kUnknown;
}

bool IsImagePath(std::string_view path) {
  static const std::set<std::string, std::less<>> kExt = {"jpg", "jpeg", "png", "webp",
                                                          "gif", "bmp",  "tif", "tiff"};
  return kExt.count(Extension(path)) > 0;
}

Result<ExpandedInputs> ExpandInputs(const std::vector<std::string>& inputs) {
  if (inputs.empty()) {
    return Status::InvalidArgument("no input given; pass a file, a glob or a folder");
  }
  std::vector<std::pair<Format, std::string>> items;
  for (const auto& input : inputs) {
    if (HasGlobChars(input) && !fs::exists(input)) {
      glob_t g;
      int rc = glob(input.c_str(), GLOB_BRACE | GLOB_TILDE, nullptr, &g);
      if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        std::error_code ec;
        return Status::NotFound(
            fmt::format("no file matches '{}' (working directory {}); check the folder and the "
                        "extension in the pattern, and quote it so the shell passes it as is",
                        input, fs::current_path(ec).string()));
      }
      if (rc != 0) {
        globfree(&g);
        return Status::IOError(fmt::format("cannot expand '{}': glob failed (code {})", input, rc));
      }
      std::vector<std::string> matches(g.gl_pathv, g.gl_pathv + g.gl_pathc);
      globfree(&g);
      std::sort(matches.begin(), matches.end());
      for (const auto& m : matches) SF_RETURN_NOT_OK(ExpandPath(m, input, &items));
    } else {
      SF_RETURN_NOT_OK(ExpandPath(input, input, &items));
    }
  }
  ExpandedInputs out;
  out.format = items[0].first;
  for (auto& [f, p] : items) {
    if (f != out.format) {
      return Status::InvalidArgument(fmt::format(
          "inputs mix formats: '{}' is {} but '{}' is {}; convert one of them first (structflow "
          "convert) or pass them as separate jobs",
          items[0].second, FormatName(out.format), p, FormatName(f)));
    }
    out.paths.push_back(std::move(p));
  }
  return out;
}

// ---------------------------------------------------------------------------------- LineReader

LineReader::LineReader(std::string path, std::FILE* file, size_t chunk_bytes)
    : path_(std::move(path)), file_(file), buf_(chunk_bytes + kPadding, '\0') {}

LineReader::~LineReader() {
  if (file_) std::fclose(file_);
}

Result<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path, size_t chunk_bytes) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::IOError(fmt::format("cannot open '{}': {}", path, Errno()));
  return std::unique_ptr<LineReader>(new LineReader(path, f, chunk_bytes));
}

Status LineReader::Fill() {
  if (pos_ > 0) {
    std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
    end_ -= pos_;
    pos_ = 0;
  }
  if (end_ + kPadding >= buf_.size()) buf_.resize(buf_.size() * 2);
  size_t room = buf_.size() - kPadding - end_;
  size_t n = std::fread(buf_.data() + end_, 1, room, file_);
  if (n < room) {
    if (std::ferror(file_)) return Status::IOError(fmt::format("cannot read '{}'", path_));
    eof_ = true;
  }
  end_ += n;
  return Status::OK();
}

Result<bool> LineReader::Next(std::string_view* line) {
  if (line_number_ == 0 && pos_ == 0) {
    // A UTF-8 byte order mark is not part of the first line.
    if (end_ < 3 && !eof_) SF_RETURN_NOT_OK(Fill());
    if (end_ >= 3 && std::memcmp(buf_.data(), "\xEF\xBB\xBF", 3) == 0) pos_ = 3;
  }
  size_t scan_from = pos_;
  while (true) {
    const char* start = buf_.data() + scan_from;
    const void* nl = std::memchr(start, '\n', end_ - scan_from);
    if (nl) {
      size_t at = static_cast<const char*>(nl) - buf_.data();
      size_t len = at - pos_;
      if (len > 0 && buf_[at - 1] == '\r') --len;
      *line = std::string_view(buf_.data() + pos_, len);
      pos_ = at + 1;
      ++line_number_;
      return true;
    }
    if (eof_) {
      if (pos_ == end_) return false;
      size_t len = end_ - pos_;
      if (buf_[end_ - 1] == '\r') --len;
      *line = std::string_view(buf_.data() + pos_, len);
      pos_ = end_;
      ++line_number_;
      return true;
    }
    size_t scanned = end_ - pos_;
    SF_RETURN_NOT_OK(Fill());
    scan_from = pos_ + scanned;
  }
}

// ---------------------------------------------------------------------------------- ByteReader

Result<std::unique_ptr<ByteReader>> ByteReader::Open(const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return Status::IOError(fmt::format("cannot open '{}': {}", path, Errno()));
  return std::unique_ptr<ByteReader>(new ByteReader(f, path));
}

ByteReader::~ByteReader() {
  if (file_) std::fclose(file_);
}

bool ByteReader::Fill() {
  if (!status_.ok()) return false;
  size_t n = std::fread(buf_.data(), 1, buf_.size(), file_);
  if (n == 0 && std::ferror(file_))
    status_ = Status::IOError(fmt::format("cannot read '{}'", path_));
  pos_ = 0;
  end_ = n;
  return n > 0;
}

// ---------------------------------------------------------------------------------- AtomicFile

std::string TempPathFor(const std::string& path) {
  return fmt::format("{}.tmp-{}", path, ::getpid());
}

int RemoveStaleTempFiles(const std::string& path) {
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  const std::string prefix = p.filename().string() + ".tmp-";
  std::error_code ec;
  int removed = 0;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    std::string_view digits = std::string_view(name).substr(prefix.size());
    if (digits.size() > 9 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
      continue;
    }
    const pid_t pid = static_cast<pid_t>(std::stol(std::string(digits)));
    std::error_code type_ec;
    if (pid <= 0 || pid == ::getpid() || !fs::is_regular_file(it->symlink_status(type_ec))) {
      continue;
    }
    // ESRCH: no such process. EPERM means it runs under another user: keep its file.
    if (::kill(pid, 0) == 0 || errno != ESRCH) continue;
    std::error_code rm_ec;
    if (fs::remove(it->path(), rm_ec)) ++removed;
  }
  return removed;
}

Result<std::unique_ptr<AtomicFile>> AtomicFile::Create(const std::string& path) {
  fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec)) {
    return Status::NotFound(
        fmt::format("cannot write '{}': folder '{}' does not exist; create it "
                    "first (mkdir -p {})",
                    path, parent.string(), parent.string()));
  }
  RemoveStaleTempFiles(path);
  std::string temp = TempPathFor(path);
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError(fmt::format("cannot create '{}': {}", temp, Errno()));
  return std::unique_ptr<AtomicFile>(new AtomicFile(path, temp, fd));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_path_.c_str());
}

Status AtomicFile::FlushBuffer() {
  const char* p = buffer_.data();
  size_t left = buffer_.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::IOError(fmt::format("cannot write '{}': {}", temp_path_, Errno()));
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  buffer_.clear();
  return Status::OK();
}

Status AtomicFile::Append(std::string_view data) {
  if (committed_ || fd_ < 0) return Status::Internal("AtomicFile::Append after Commit");
  buffer_.append(data);
  if (buffer_.size() >= (1 << 20)) return FlushBuffer();
  return Status::OK();
}

Status AtomicFile::Commit() {
  if (committed_) return Status::OK();
  SF_RETURN_NOT_OK(FlushBuffer());
  if (::fsync(fd_) != 0) {
    return Status::IOError(fmt::format("cannot fsync '{}': {}", temp_path_, Errno()));
  }
  if (::close(fd_) != 0) {
    fd_ = -1;
    return Status::IOError(fmt::format("cannot close '{}': {}", temp_path_, Errno()));
  }
  fd_ = -1;
  if (std::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    return Status::IOError(
        fmt::format("cannot rename '{}' to '{}': {}", temp_path_, path_, Errno()));
  }
  committed_ = true;
  // Make the rename itself durable.
  std::string dir = fs::path(path_).parent_path().string();
  int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);
    ::close(dfd);
  }
  return Status::OK();
}

// ------------------------------------------------------------------------------- type overrides

Result<std::vector<std::pair<std::string, table::TypePtr>>> ParseTypeOverrides(
    const std::vector<std::string>& overrides) {
  using table::DataType;
  std::vector<std::pair<std::string, table::TypePtr>> out;
  for (const auto& o : overrides) {
    size_t eq = o.rfind('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == o.size()) {
      return Status::InvalidArgument(fmt::format(
          "type override '{}' is not column=type; write e.g. 'zip=string' or 'score=double'", o));
    }
    std::string name = o.substr(0, eq);
    std::string type = Lower(o.substr(eq + 1));
    table::TypePtr t;
    if (type == "bool" || type == "boolean") {
      t = DataType::Bool();
    } else if (type == "int64" || type == "int" || type == "integer" || type == "bigint") {
      t = DataType::Int64();
    } else if (type == "double" || type == "float" || type == "float64") {
      t = DataType::Double();
    } else if (type == "string" || type == "str" || type == "text" || type == "varchar") {
      t = DataType::String();
    } else if (type == "binary" || type == "bytes" || type == "blob") {
      t = DataType::Binary();
    } else {
      return Status::InvalidArgument(
          fmt::format("type override '{}': unknown type '{}'; use bool, int64, double, string or "
                      "binary (base64 text)",
                      o, type));
    }
    out.emplace_back(std::move(name), std::move(t));
  }
  return out;
}

Result<table::Schema> ProjectSchema(const table::Schema& schema,
                                    const std::vector<std::string>& columns,
                                    std::string_view what) {
  if (columns.empty()) return schema;
  table::Schema out;
  for (const auto& c : columns) {
    int i = schema.FieldIndex(c);
    if (i < 0) {
      std::string names;
      for (const auto& f : schema.fields) names += (names.empty() ? "" : ", ") + f.name;
      return Status::NotFound(fmt::format("column '{}' is not in {}; its columns are: {}", c, what,
                                          names.empty() ? "(none)" : names));
    }
    out.fields.push_back(schema.fields[i]);
  }
  return out;
}

std::string DescribeSchemaDifference(const table::Schema& a, std::string_view a_name,
                                     const table::Schema& b, std::string_view b_name) {
  for (const auto& f : a.fields) {
    int j = b.FieldIndex(f.name);
    if (j < 0) return fmt::format("column '{}' is in {} but not in {}", f.name, a_name, b_name);
    const auto& g = b.fields[j];
    if (!f.type->Equals(*g.type)) {
      return fmt::format("column '{}' is {} in {} but {} in {}", f.name, f.type->ToString(), a_name,
                         g.type->ToString(), b_name);
    }
  }
  for (const auto& g : b.fields) {
    if (a.FieldIndex(g.name) < 0) {
      return fmt::format("column '{}' is in {} but not in {}", g.name, b_name, a_name);
    }
  }
  for (size_t i = 0; i < a.fields.size(); ++i) {
    if (a.fields[i].name != b.fields[i].name) {
      return fmt::format(
          "the columns come in a different order in {} and {} (column {} is '{}' "
          "in one and '{}' in the other)",
          a_name, b_name, i + 1, a.fields[i].name, b.fields[i].name);
    }
    if (a.fields[i].nullable != b.fields[i].nullable) {
      return fmt::format("column '{}' is nullable in one of {} and {} but not the other",
                         a.fields[i].name, a_name, b_name);
    }
  }
  return "";
}

Status TextRowSink::WriteHeaderOnce() {
  if (header_written_) return Status::OK();
  header_written_ = true;
  return header_.empty() ? Status::OK() : file_->Append(header_);
}

Status TextRowSink::Write(const table::RecordBatch& batch) {
  if (batch.num_columns() != static_cast<int>(schema_.fields.size())) {
    return Status::InvalidArgument(
        fmt::format("writing '{}': batch has {} columns but the sink was opened with {}",
                    file_->path(), batch.num_columns(), schema_.fields.size()));
  }
  SF_RETURN_NOT_OK(WriteHeaderOnce());
  // AtomicFile buffers; one row at a time keeps no second copy of the batch's text.
  for (int64_t r = 0; r < batch.num_rows(); ++r) {
    line_.clear();
    AppendRow(batch, r, &line_);
    SF_RETURN_NOT_OK(file_->Append(line_));
  }
  return Status::OK();
}

Status TextRowSink::Finish() {
  SF_RETURN_NOT_OK(WriteHeaderOnce());
  return file_->Commit();
}

}  // namespace structflow::io
