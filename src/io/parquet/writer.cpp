// Parquet writer: shreds table columns into definition/repetition levels and values per leaf,
// buffers one row group, and writes it as dictionary or PLAIN pages (data page v1).
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <unordered_map>

#include "io/files.h"
#include "io/parquet/codec.h"
#include "io/parquet/encoding.h"
#include "io/parquet/metadata.h"
#include "io/parquet/parquet.h"
#include "io/parquet/schema_map.h"

namespace structflow::io::parquet {
namespace {

using table::Column;
using table::TypeId;

constexpr size_t kMaxDictBytes = 2 << 20;  // above this a dictionary falls back to PLAIN
constexpr size_t kMaxStatBytes = 64;       // longer byte values get no min/max

// One leaf's buffered row-group data.
struct LeafData {
  const Node* node = nullptr;
  TypeId type = TypeId::kNull;
  std::vector<int16_t> def, rep;
  std::vector<int64_t> ints;
  std::vector<double> dbls;
  std::string bytes;
  std::vector<uint64_t> offs{0};
  int64_t null_count = 0;
  // Statistics over non-null values.
  bool has_minmax = false, bytes_stats_ok = true;
  int64_t imin = 0, imax = 0;
  double dmin = 0, dmax = 0;
  std::string smin, smax;

  std::string_view Bytes(size_t i) const {
    return std::string_view(bytes.data() + offs[i], offs[i + 1] - offs[i]);
  }
  size_t NumValues() const {
    return type == TypeId::kFloat || type == TypeId::kDouble    ? dbls.size()
           : type == TypeId::kString || type == TypeId::kBinary ? offs.size() - 1
                                                                : ints.size();
  }
  size_t ByteEstimate() const {
    return def.size() * 4 + ints.size() * 8 + dbls.size() * 8 + bytes.size() + offs.size() * 8;
  }
  void Reset() {
    def.clear();
    rep.clear();
    ints.clear();
    dbls.clear();
    bytes.clear();
    offs.assign(1, 0);
    null_count = 0;
    has_minmax = false;
    bytes_stats_ok = true;
  }
};

void PutLE32(std::string* out, uint32_t v) { out->append(reinterpret_cast<const char*>(&v), 4); }

class ParquetSink : public io::Sink {
 public:
  ParquetSink(std::string path, table::Schema schema, io::WriteOptions options,
              ParquetWriterOptions popts)
      : path_(std::move(path)),
        schema_(std::move(schema)),
        options_(std::move(options)),
        popts_(popts) {}

  ~ParquetSink() override {
    if (fd_ >= 0) {
      ::close(fd_);
      ::unlink(tmp_path_.c_str());
    }
  }

  Status Init() {
    const std::string& c = options_.compression;
    if (c == "none" || c == "uncompressed" || c.empty()) {
      codec_ = Codec::kUncompressed;
    } else if (c == "snappy") {
      codec_ = Codec::kSnappy;
    } else if (c == "zstd") {
      codec_ = Codec::kZstd;
    } else if (c == "gzip") {
      codec_ = Codec::kGzip;
    } else {
      return Status::InvalidArgument(
          fmt::format("{}: unknown Parquet compression '{}'; use none, snappy or zstd", path_, c));
    }
    if (popts_.data_page_version != 1 && popts_.data_page_version != 2) {
      return Status::InvalidArgument(fmt::format("{}: data page version must be 1 or 2, not {}",
                                                 path_, popts_.data_page_version));
    }
    Status st = SchemaElementsFor(schema_, &md_.schema);
    if (!st.ok()) return st.WithContext(path_);
    st = BuildNodes(md_.schema, &nodes_);
    if (!st.ok()) return st.WithContext(path_);
    for (const auto& n : nodes_) CollectLeaves(n);
    RemoveStaleTempFiles(path_);
    tmp_path_ = TempPathFor(path_);
    fd_ = ::open(tmp_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      return Status::IOError(
          fmt::format("cannot create '{}': {}; check that the folder exists and "
                      "is writable",
                      tmp_path_, std::strerror(errno)));
    }
    out_ = "PAR1";
    offset_ = 0;
    return Status::OK();
  }

  Status Write(const table::RecordBatch& batch) override {
    if (finished_) return Status::Internal("Write after Finish");
    if (batch.columns.size() != schema_.fields.size()) {
      return Status::InvalidArgument(fmt::format("{}: batch has {} columns, the sink's schema {}",
                                                 path_, batch.columns.size(),
                                                 schema_.fields.size()));
    }
    for (size_t c = 0; c < batch.columns.size(); ++c) {
      if (!batch.columns[c].type()->Equals(*schema_.fields[c].type)) {
        return Status::InvalidArgument(
            fmt::format("{}: column '{}' is {} in the batch but {} in the sink's schema", path_,
                        schema_.fields[c].name, batch.columns[c].type()->ToString(),
                        schema_.fields[c].type->ToString()));
      }
    }
    for (int64_t r = 0; r < batch.num_rows(); ++r) {
      for (size_t c = 0; c < nodes_.size(); ++c) {
        SF_RETURN_NOT_OK(Shred(nodes_[c], batch.columns[c], r, 0, 0));
      }
      ++rg_rows_;
      if ((r & 63) == 63 || r + 1 == batch.num_rows()) {
        size_t bytes = 0;
        for (const auto& l : leaves_) bytes += l.ByteEstimate();
        if (static_cast<int64_t>(bytes) >= options_.row_group_bytes)
          SF_RETURN_NOT_OK(FlushRowGroup());
      }
    }
    return Status::OK();
  }

  Status Finish() override {
    if (finished_) return Status::OK();
    SF_RETURN_NOT_OK(FlushRowGroup());
    std::string footer;
    md_.version = 1;
    md_.created_by = "structflow";
    SerializeFileMetaData(md_, &footer);
    out_ += footer;
    PutLE32(&out_, static_cast<uint32_t>(footer.size()));
    out_ += "PAR1";
    SF_RETURN_NOT_OK(FlushOut());
    if (::fsync(fd_) != 0) return IoError("fsync");
    if (::close(fd_) != 0) {
      fd_ = -1;
      ::unlink(tmp_path_.c_str());
      return IoError("close");
    }
    fd_ = -1;
    if (::rename(tmp_path_.c_str(), path_.c_str()) != 0) {
      Status st = IoError("rename");
      ::unlink(tmp_path_.c_str());
      return st;
    }
    finished_ = true;
    return Status::OK();
  }

 private:
  Status IoError(const char* what) {
    return Status::IOError(fmt::format("{}: {} failed: {}", tmp_path_, what, std::strerror(errno)));
  }

  void CollectLeaves(const Node& n) {
    if (n.kind == Node::Kind::kLeaf) {
      LeafData l;
      l.node = &n;
      l.type = n.type->id();
      leaves_.push_back(std::move(l));
      return;
    }
    for (const auto& c : n.children) CollectLeaves(c);
  }

  void EmitEmpty(const Node& n, int def, int rep) {
    for (int k = n.first_leaf; k < n.first_leaf + n.num_leaves; ++k) {
      leaves_[k].def.push_back(static_cast<int16_t>(def));
      leaves_[k].rep.push_back(static_cast<int16_t>(rep));
      ++leaves_[k].null_count;
    }
  }

  Status Shred(const Node& n, const Column& col, int64_t i, int parent_def, int rep) {
    if (col.IsNull(i)) {
      if (!n.nullable) {
        return Status::InvalidArgument(fmt::format(
            "{}: field '{}' is declared not null but row {} holds a null", path_, n.name, i));
      }
      EmitEmpty(n, parent_def, rep);
      return Status::OK();
    }
    int d = parent_def + (n.nullable ? 1 : 0);
    switch (n.kind) {
      case Node::Kind::kLeaf:
        AppendLeaf(leaves_[n.first_leaf], col, i, d, rep);
        return Status::OK();
      case Node::Kind::kStruct:
        for (size_t c = 0; c < n.children.size(); ++c) {
          SF_RETURN_NOT_OK(Shred(n.children[c], col.child(static_cast<int>(c)), i, d, rep));
        }
        return Status::OK();
      case Node::Kind::kList:
      case Node::Kind::kMap: {
        auto [b, e] = col.ListRange(i);
        if (b == e) {
          EmitEmpty(n, d, rep);
          return Status::OK();
        }
        for (int64_t k = b; k < e; ++k) {
          SF_RETURN_NOT_OK(Shred(n.children[0], col.child(0), k, d + 1, k == b ? rep : n.list_rep));
        }
        return Status::OK();
      }
    }
    return Status::OK();
  }

  void AppendLeaf(LeafData& l, const Column& col, int64_t i, int def, int rep) {
    l.def.push_back(static_cast<int16_t>(def));
    l.rep.push_back(static_cast<int16_t>(rep));
    switch (l.type) {
      case TypeId::kNull:
        break;
      case TypeId::kFloat:
      case TypeId::kDouble: {
        double v = col.GetDouble(i);
        if (l.type == TypeId::kFloat) v = static_cast<float>(v);
        l.dbls.push_back(v);
        if (v == v) {
          if (!l.has_minmax) {
            l.dmin = l.dmax = v;
            l.has_minmax = true;
          }
          l.dmin = std::min(l.dmin, v);
          l.dmax = std::max(l.dmax, v);
        }
        break;
      }
      case TypeId::kString:
      case TypeId::kBinary: {
        std::string_view v = col.GetBytes(i);
        l.bytes.append(v);
        l.offs.push_back(l.bytes.size());
        if (v.size() > kMaxStatBytes) l.bytes_stats_ok = false;
        if (l.bytes_stats_ok) {
          if (!l.has_minmax) {
            l.smin = l.smax = std::string(v);
            l.has_minmax = true;
          } else {
            // Unsigned byte order, as Parquet's statistics for BYTE_ARRAY use.
            auto less = [](std::string_view a, std::string_view b) {
              return std::lexicographical_compare(
                  a.begin(), a.end(), b.begin(), b.end(),
                  [](char x, char y) { return static_cast<uint8_t>(x) < static_cast<uint8_t>(y); });
            };
            if (less(v, l.smin)) l.smin = std::string(v);
            if (less(l.smax, v)) l.smax = std::string(v);
          }
        }
        break;
      }
      default: {
        int64_t v = col.GetInt(i);
        l.ints.push_back(v);
        if (!l.has_minmax) {
          l.imin = l.imax = v;
          l.has_minmax = true;
        }
        l.imin = std::min(l.imin, v);
        l.imax = std::max(l.imax, v);
      }
    }
  }

  // PLAIN encoding of value i.
  void PlainValue(const LeafData& l, size_t i, std::string* out) const {
    switch (l.node->physical) {
      case PhysicalType::kBoolean:
        break;  // booleans are bit-packed by the caller
      case PhysicalType::kInt32: {
        int32_t v = static_cast<int32_t>(l.ints[i]);
        out->append(reinterpret_cast<const char*>(&v), 4);
        break;
      }
      case PhysicalType::kInt64:
        out->append(reinterpret_cast<const char*>(&l.ints[i]), 8);
        break;
      case PhysicalType::kFloat: {
        float v = static_cast<float>(l.dbls[i]);
        out->append(reinterpret_cast<const char*>(&v), 4);
        break;
      }
      case PhysicalType::kDouble:
        out->append(reinterpret_cast<const char*>(&l.dbls[i]), 8);
        break;
      default: {
        std::string_view v = l.Bytes(i);
        PutLE32(out, static_cast<uint32_t>(v.size()));
        out->append(v);
      }
    }
  }

  void PlainValues(const LeafData& l, size_t v0, size_t v1, std::string* out) const {
    if (l.node->physical == PhysicalType::kBoolean) {
      size_t base = out->size();
      out->resize(base + (v1 - v0 + 7) / 8, '\0');
      for (size_t i = v0; i < v1; ++i) {
        if (l.ints[i]) (*out)[base + (i - v0) / 8] |= static_cast<char>(1 << ((i - v0) % 8));
      }
      return;
    }
    for (size_t i = v0; i < v1; ++i) PlainValue(l, i, out);
  }

  // Writes a page whose first `plain_prefix` bytes (v2 levels) stay uncompressed.
  Status WritePage(PageHeader ph, const std::string& body, size_t plain_prefix = 0) {
    ph.uncompressed_page_size = static_cast<int32_t>(body.size());
    SF_RETURN_NOT_OK(Compress(codec_, std::string_view(body).substr(plain_prefix), &compressed_));
    if (plain_prefix > 0) compressed_.insert(0, body, 0, plain_prefix);
    ph.compressed_page_size = static_cast<int32_t>(compressed_.size());
    std::string header;
    SerializePageHeader(ph, &header);
    out_ += header;
    out_ += compressed_;
    chunk_uncompressed_ += static_cast<int64_t>(header.size() + body.size());
    chunk_compressed_ += static_cast<int64_t>(header.size() + compressed_.size());
    if (out_.size() >= (8u << 20)) SF_RETURN_NOT_OK(FlushOut());
    return Status::OK();
  }

  Status FlushOut() {
    size_t done = 0;
    while (done < out_.size()) {
      ssize_t n = ::write(fd_, out_.data() + done, out_.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        return IoError("write");
      }
      done += static_cast<size_t>(n);
    }
    offset_ += static_cast<int64_t>(out_.size());
    out_.clear();
    return Status::OK();
  }

  int64_t Position() const { return offset_ + static_cast<int64_t>(out_.size()); }

  Status WriteChunk(LeafData& l, ColumnChunk* cc) {
    const Node& n = *l.node;
    ColumnMetaData m;
    m.type = n.physical;
    m.codec = codec_;
    m.num_values = static_cast<int64_t>(l.def.size());
    std::string path = n.path;
    for (size_t s = 0, e; s <= path.size(); s = e + 1) {
      e = path.find('.', s);
      if (e == std::string::npos) e = path.size();
      m.path_in_schema.push_back(path.substr(s, e - s));
    }
    chunk_uncompressed_ = chunk_compressed_ = 0;
    int64_t chunk_start = Position();

    // Dictionary for strings and binaries while it stays small and saves space.
    size_t nvals = l.NumValues();
    std::vector<uint32_t> indices;
    std::string dict_body;
    uint32_t dict_count = 0;
    bool use_dict = false;
    if ((l.type == TypeId::kString || l.type == TypeId::kBinary) && nvals > 0) {
      std::unordered_map<std::string_view, uint32_t> map;
      indices.reserve(nvals);
      use_dict = true;
      for (size_t i = 0; i < nvals; ++i) {
        std::string_view v = l.Bytes(i);
        auto [it, inserted] = map.emplace(v, static_cast<uint32_t>(map.size()));
        if (inserted) {
          PutLE32(&dict_body, static_cast<uint32_t>(v.size()));
          dict_body.append(v);
          if (dict_body.size() > kMaxDictBytes) {
            use_dict = false;
            break;
          }
        }
        indices.push_back(it->second);
      }
      dict_count = static_cast<uint32_t>(map.size());
      if (use_dict && dict_body.size() + indices.size() > l.bytes.size() + 4 * nvals)
        use_dict = false;
    }
    m.encodings = {static_cast<int32_t>(Encoding::kRle)};
    if (use_dict) {
      m.dictionary_page_offset = Position();
      PageHeader ph;
      ph.type = PageType::kDictionaryPage;
      ph.dictionary_page = DictionaryPageHeader{static_cast<int32_t>(dict_count), Encoding::kPlain};
      SF_RETURN_NOT_OK(WritePage(ph, dict_body));
      m.encodings.push_back(static_cast<int32_t>(Encoding::kPlain));
      m.encodings.push_back(static_cast<int32_t>(Encoding::kRleDictionary));
    } else {
      m.encodings.push_back(static_cast<int32_t>(Encoding::kPlain));
    }
    m.data_page_offset = Position();

    // Data pages, cut at row boundaries once the page holds about kPageBytes.
    int dict_bw = BitWidth(dict_count > 0 ? dict_count - 1 : 0);
    size_t lvl = 0, val = 0, total = l.def.size();
    std::string body;
    std::vector<uint32_t> tmp;
    while (lvl < total) {
      size_t l0 = lvl, v0 = val, bytes = 0;
      while (lvl < total) {
        if (lvl > l0 && l.rep[lvl] == 0 && bytes >= popts_.page_bytes) break;
        if (l.def[lvl] == n.max_def && l.type != TypeId::kNull) {
          bytes +=
              l.type == TypeId::kString || l.type == TypeId::kBinary ? l.Bytes(val).size() + 4 : 8;
          ++val;
        }
        bytes += 1;
        ++lvl;
      }
      body.clear();
      bool v2 = popts_.data_page_version == 2;
      // v1 levels carry a 4-byte length; v2 levels have their lengths in the page header.
      auto levels = [&](const std::vector<int16_t>& src, int max) -> int32_t {
        tmp.assign(src.begin() + static_cast<int64_t>(l0), src.begin() + static_cast<int64_t>(lvl));
        std::string enc;
        EncodeRle(tmp.data(), static_cast<int64_t>(tmp.size()),
                  BitWidth(static_cast<uint64_t>(max)), &enc);
        if (!v2) PutLE32(&body, static_cast<uint32_t>(enc.size()));
        body += enc;
        return static_cast<int32_t>(enc.size());
      };
      int32_t rep_len = n.max_rep > 0 ? levels(l.rep, n.max_rep) : 0;
      int32_t def_len = n.max_def > 0 ? levels(l.def, n.max_def) : 0;
      size_t levels_size = body.size();
      Encoding value_encoding = use_dict ? Encoding::kRleDictionary : Encoding::kPlain;
      if (use_dict) {
        body.push_back(static_cast<char>(dict_bw));
        EncodeRle(indices.data() + v0, static_cast<int64_t>(val - v0), dict_bw, &body);
      } else if (l.type != TypeId::kNull) {
        PlainValues(l, v0, val, &body);
      }
      PageHeader ph;
      if (v2) {
        ph.type = PageType::kDataPageV2;
        DataPageHeaderV2 dh;
        dh.num_values = static_cast<int32_t>(lvl - l0);
        dh.num_nulls = static_cast<int32_t>((lvl - l0) - (val - v0));
        int32_t rows = 0;
        for (size_t k = l0; k < lvl; ++k) rows += l.rep[k] == 0;
        dh.num_rows = rows;
        dh.encoding = value_encoding;
        dh.definition_levels_byte_length = def_len;
        dh.repetition_levels_byte_length = rep_len;
        dh.is_compressed = codec_ != Codec::kUncompressed;
        ph.data_page_v2 = dh;
        SF_RETURN_NOT_OK(WritePage(ph, body, levels_size));
      } else {
        ph.type = PageType::kDataPage;
        DataPageHeader dh;
        dh.num_values = static_cast<int32_t>(lvl - l0);
        dh.definition_level_encoding = Encoding::kRle;
        dh.repetition_level_encoding = Encoding::kRle;
        dh.encoding = value_encoding;
        ph.data_page = dh;
        SF_RETURN_NOT_OK(WritePage(ph, body));
      }
    }
    m.total_compressed_size = chunk_compressed_;
    m.total_uncompressed_size = chunk_uncompressed_;
    Statistics st;
    st.null_count = l.null_count;
    if (l.has_minmax) {
      std::string mn, mx;
      switch (n.physical) {
        case PhysicalType::kBoolean:
          mn.push_back(static_cast<char>(l.imin != 0));
          mx.push_back(static_cast<char>(l.imax != 0));
          break;
        case PhysicalType::kInt32: {
          int32_t a = static_cast<int32_t>(l.imin), b = static_cast<int32_t>(l.imax);
          mn.assign(reinterpret_cast<const char*>(&a), 4);
          mx.assign(reinterpret_cast<const char*>(&b), 4);
          break;
        }
        case PhysicalType::kInt64:
          mn.assign(reinterpret_cast<const char*>(&l.imin), 8);
          mx.assign(reinterpret_cast<const char*>(&l.imax), 8);
          break;
        case PhysicalType::kFloat: {
          float a = static_cast<float>(l.dmin), b = static_cast<float>(l.dmax);
          mn.assign(reinterpret_cast<const char*>(&a), 4);
          mx.assign(reinterpret_cast<const char*>(&b), 4);
          break;
        }
        case PhysicalType::kDouble:
          mn.assign(reinterpret_cast<const char*>(&l.dmin), 8);
          mx.assign(reinterpret_cast<const char*>(&l.dmax), 8);
          break;
        default:
          if (l.bytes_stats_ok) {
            mn = l.smin;
            mx = l.smax;
          }
      }
      if (!mn.empty() || l.type == TypeId::kString || l.type == TypeId::kBinary) {
        if (l.bytes_stats_ok || (l.type != TypeId::kString && l.type != TypeId::kBinary)) {
          st.min_value = mn;
          st.max_value = mx;
        }
      }
    }
    m.statistics = st;
    cc->file_offset = chunk_start;
    cc->meta_data = std::move(m);
    return Status::OK();
  }

  Status FlushRowGroup() {
    if (rg_rows_ == 0) return Status::OK();
    RowGroup rg;
    rg.num_rows = rg_rows_;
    for (auto& l : leaves_) {
      ColumnChunk cc;
      Status st = WriteChunk(l, &cc);
      if (!st.ok()) return st.WithContext(fmt::format("{}: column '{}'", path_, l.node->path));
      rg.total_byte_size += cc.meta_data->total_uncompressed_size;
      rg.columns.push_back(std::move(cc));
      l.Reset();
    }
    md_.num_rows += rg_rows_;
    md_.row_groups.push_back(std::move(rg));
    rg_rows_ = 0;
    return FlushOut();
  }

  std::string path_, tmp_path_;
  table::Schema schema_;
  io::WriteOptions options_;
  ParquetWriterOptions popts_;
  Codec codec_ = Codec::kZstd;
  FileMetaData md_;
  std::vector<Node> nodes_;
  std::vector<LeafData> leaves_;
  int64_t rg_rows_ = 0;
  int fd_ = -1;
  std::string out_;  // bytes not yet written
  int64_t offset_ = 0;
  std::string compressed_;
  int64_t chunk_uncompressed_ = 0, chunk_compressed_ = 0;
  bool finished_ = false;
};

}  // namespace

Result<std::unique_ptr<io::Sink>> OpenParquetSink(const std::string& path,
                                                  const table::Schema& schema,
                                                  const io::WriteOptions& options) {
  return OpenParquetSink(path, schema, options, ParquetWriterOptions());
}

Result<std::unique_ptr<io::Sink>> OpenParquetSink(const std::string& path,
                                                  const table::Schema& schema,
                                                  const io::WriteOptions& options,
                                                  const ParquetWriterOptions& parquet_options) {
  auto sink = std::make_unique<ParquetSink>(path, schema, options, parquet_options);
  SF_RETURN_NOT_OK(sink->Init());
  return std::unique_ptr<io::Sink>(std::move(sink));
}

}  // namespace structflow::io::parquet
