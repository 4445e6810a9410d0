#include "io/parquet/parquet.h"

#include <brotli/encode.h>
#include <gtest/gtest.h>
#include <lz4.h>
#include <unistd.h>
#include <zlib.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>

#include "io/parquet/codec.h"
#include "io/parquet/encoding.h"
#include "io/parquet/metadata.h"
#include "io/parquet/thrift.h"
#include "table/record_batch.h"

namespace structflow::io::parquet {
namespace {

namespace fs = std::filesystem;
using table::Column;
using table::DataType;
using table::Field;
using table::RecordBatch;
using table::Schema;
using table::TypePtr;

std::vector<uint8_t> Bytes(std::initializer_list<int> v) {
  std::vector<uint8_t> out;
  for (int x : v) out.push_back(static_cast<uint8_t>(x));
  return out;
}

class TempDir {
 public:
  TempDir() {
    path_ = fs::temp_directory_path() / ("structflow_parquet_test_" + std::to_string(::getpid()) +
                                         "_" + std::to_string(counter_++));
    fs::create_directories(path_);
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  static inline int counter_ = 0;
  fs::path path_;
};

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), static_cast<std::streamsize>(data.size()));
}

// ---------------------------------------------------------------------------------------------
// Thrift compact protocol

TEST(ParquetThrift, ReadsFieldsWithDeltaAndLongIds) {
  // struct { 1: i32 = -3, 2: binary "ab", 20 (long form): i64 = 300, 21: bool true }
  auto b = Bytes({0x15, 0x05, 0x18, 0x02, 'a', 'b', 0x06, 0x28, 0xd8, 0x04, 0x11, 0x00});
  CompactReader r(b.data(), b.size());
  ASSERT_TRUE(r.BeginStruct().ok());
  CType t;
  int16_t id;
  int32_t i32;
  ASSERT_TRUE(r.ReadFieldHeader(&t, &id).ok());
  EXPECT_EQ(id, 1);
  ASSERT_TRUE(r.ReadI32(&i32).ok());
  EXPECT_EQ(i32, -3);
  std::string s;
  ASSERT_TRUE(r.ReadFieldHeader(&t, &id).ok());
  EXPECT_EQ(id, 2);
  ASSERT_TRUE(r.ReadBinary(&s).ok());
  EXPECT_EQ(s, "ab");
  int64_t i64;
  ASSERT_TRUE(r.ReadFieldHeader(&t, &id).ok());
  EXPECT_EQ(id, 20);
  EXPECT_EQ(t, CType::kI64);
  ASSERT_TRUE(r.ReadI64(&i64).ok());
  EXPECT_EQ(i64, 300);
  ASSERT_TRUE(r.ReadFieldHeader(&t, &id).ok());
  EXPECT_EQ(id, 21);
  EXPECT_TRUE(CompactReader::BoolFromType(t));
  ASSERT_TRUE(r.ReadFieldHeader(&t, &id).ok());
  EXPECT_EQ(t, CType::kStop);
}

TEST(ParquetThrift, SkipsUnknownNestedFields) {
  // A PageHeader with an unknown field 9 holding a struct with a list, a map and a double, then
  // the real fields must still be read.
  std::string buf;
  CompactWriter w(&buf);
  w.BeginStruct();
  w.FieldI32(1, 0);
  w.FieldI32(2, 10);
  w.FieldI32(3, 10);
  w.FieldStruct(9);
  w.FieldList(1, CType::kBinary, 2);
  w.Binary("x");
  w.Binary("yy");
  w.FieldHeader(CType::kMap, 2);
  w.Varint(1);
  buf.push_back(static_cast<char>(0x55));  // i32 -> i32
  w.I32(1);
  w.I32(2);
  w.FieldHeader(CType::kDouble, 3);
  buf.append(8, '\0');
  w.EndStruct();
  w.FieldStruct(5);
  w.FieldI32(1, 7);
  w.FieldI32(2, 0);
  w.FieldI32(3, 3);
  w.FieldI32(4, 3);
  w.EndStruct();
  w.EndStruct();
  PageHeader ph;
  size_t used = 0;
  Status st = ParsePageHeader(reinterpret_cast<const uint8_t*>(buf.data()), buf.size(), &ph, &used);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(used, buf.size());
  ASSERT_TRUE(ph.data_page.has_value());
  EXPECT_EQ(ph.data_page->num_values, 7);
  EXPECT_EQ(ph.uncompressed_page_size, 10);
}

TEST(ParquetThrift, TruncatedInputIsCorruptAtEveryLength) {
  FileMetaData md;
  md.schema.resize(2);
  md.schema[0].name = "schema";
  md.schema[0].num_children = 1;
  md.schema[1].name = "a";
  md.schema[1].type = PhysicalType::kInt64;
  md.schema[1].repetition = Repetition::kOptional;
  md.num_rows = 5;
  std::string buf;
  SerializeFileMetaData(md, &buf);
  FileMetaData ok;
  ASSERT_TRUE(
      ParseFileMetaData(reinterpret_cast<const uint8_t*>(buf.data()), buf.size(), &ok).ok());
  EXPECT_EQ(ok.num_rows, 5);
  ASSERT_EQ(ok.schema.size(), 2u);
  EXPECT_EQ(ok.schema[1].name, "a");
  for (size_t n = 0; n < buf.size(); ++n) {
    FileMetaData cut;
    Status st = ParseFileMetaData(reinterpret_cast<const uint8_t*>(buf.data()), n, &cut);
    EXPECT_EQ(st.code(), StatusCode::kCorrupt) << "length " << n;
  }
}

TEST(ParquetThrift, RejectsDeepNestingAndHugeLists) {
  std::string deep(200, static_cast<char>(0x1c));  // field 1: struct, nested 200 times
  FileMetaData md;
  Status st = ParseFileMetaData(reinterpret_cast<const uint8_t*>(deep.data()), deep.size(), &md);
  EXPECT_EQ(st.code(), StatusCode::kCorrupt);
  // field 2 (schema): list of 2^31 structs in a 8-byte buffer.
  auto huge = Bytes({0x29, 0xfc, 0xff, 0xff, 0xff, 0xff, 0x07, 0x00});
  st = ParseFileMetaData(huge.data(), huge.size(), &md);
  EXPECT_EQ(st.code(), StatusCode::kCorrupt);
  EXPECT_NE(st.message().find("exceeds"), std::string::npos) << st.message();
}

// ---------------------------------------------------------------------------------------------
// Encodings

TEST(ParquetEncoding, DecodesRleAndBitPackedRuns) {
  // Spec example: bit-packed run of 0..7 with width 3, then an RLE run of 5 x 4.
  auto b = Bytes({0x03, 0x88, 0xc6, 0xfa, 0x0a, 0x04});
  RleDecoder d(b.data(), b.size(), 3);
  std::vector<uint32_t> out(13);
  ASSERT_TRUE(d.Get(out.data(), 13).ok());
  std::vector<uint32_t> want = {0, 1, 2, 3, 4, 5, 6, 7, 4, 4, 4, 4, 4};
  EXPECT_EQ(out, want);
  std::vector<uint32_t> more(1);
  EXPECT_EQ(d.Get(more.data(), 1).code(), StatusCode::kCorrupt);
}

TEST(ParquetEncoding, RleRoundTripsRandomValues) {
  std::mt19937 rng(7);
  for (int bw : {1, 2, 5, 8, 13, 20, 32}) {
    std::vector<uint32_t> vals(3001);
    uint64_t mask = bw == 32 ? 0xffffffffu : (1u << bw) - 1;
    for (size_t i = 0; i < vals.size(); ++i) {
      vals[i] = (i / 50) % 3 == 0 ? 1 : static_cast<uint32_t>(rng() & mask);  // runs and noise
    }
    std::string enc;
    EncodeRle(vals.data(), static_cast<int64_t>(vals.size()), bw, &enc);
    RleDecoder d(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), bw);
    std::vector<uint32_t> out(vals.size());
    ASSERT_TRUE(d.Get(out.data(), static_cast<int64_t>(out.size())).ok()) << bw;
    EXPECT_EQ(out, vals) << bw;
  }
}

TEST(ParquetEncoding, DecodesLevelsV1AndDeprecatedBitPacked) {
  // RLE levels behind a 4-byte length: 3 x 1 then 2 x 0 (max level 1).
  auto b = Bytes({4, 0, 0, 0, 0x06, 0x01, 0x04, 0x00, 0xee});
  std::vector<int16_t> out(5);
  size_t used = 0;
  ASSERT_TRUE(DecodeLevels(3, true, 1, b.data(), b.size(), 5, out.data(), &used).ok());
  EXPECT_EQ(used, 8u);
  EXPECT_EQ(out, (std::vector<int16_t>{1, 1, 1, 0, 0}));
  // BIT_PACKED levels are MSB first: 0b10110000 -> 1,0,1,1,0.
  auto bp = Bytes({0xb0});
  ASSERT_TRUE(DecodeLevels(4, true, 1, bp.data(), bp.size(), 5, out.data(), &used).ok());
  EXPECT_EQ(out, (std::vector<int16_t>{1, 0, 1, 1, 0}));
  // A level above the maximum is corrupt.
  auto high = Bytes({2, 0, 0, 0, 0x02, 0x03});
  EXPECT_EQ(DecodeLevels(3, true, 1, high.data(), high.size(), 1, out.data(), &used).code(),
            StatusCode::kCorrupt);
  // A length prefix beyond the page is corrupt.
  auto longlen = Bytes({9, 0, 0, 0, 0x02});
  EXPECT_EQ(DecodeLevels(3, true, 1, longlen.data(), longlen.size(), 1, out.data(), &used).code(),
            StatusCode::kCorrupt);
}

TEST(ParquetEncoding, DecodesDeltaBinaryPackedSpecExamples) {
  // 1, 2, 3, 4, 5: every delta is the min delta, so all bit widths are 0.
  auto a = Bytes({0x80, 0x01, 0x04, 0x05, 0x02, 0x02, 0, 0, 0, 0});
  std::vector<int64_t> out;
  size_t used = 0;
  ASSERT_TRUE(DecodeDeltaBinaryPacked(a.data(), a.size(), 100, &out, &used).ok());
  EXPECT_EQ(out, (std::vector<int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(used, a.size());
  // 7, 5, 3, 1, 2, 3, 4, 5: min delta -2, adjusted deltas 0,0,0,3,3,3,3 at 2 bits.
  auto b = Bytes({0x80, 0x01, 0x04, 0x08, 0x0e, 0x03, 0x02, 0, 0, 0, 0xc0, 0x3f, 0, 0, 0, 0, 0, 0});
  out.clear();
  ASSERT_TRUE(DecodeDeltaBinaryPacked(b.data(), b.size(), 100, &out, &used).ok());
  EXPECT_EQ(out, (std::vector<int64_t>{7, 5, 3, 1, 2, 3, 4, 5}));
  EXPECT_EQ(used, b.size());
  // Truncated miniblock.
  out.clear();
  EXPECT_EQ(DecodeDeltaBinaryPacked(b.data(), b.size() - 3, 100, &out, &used).code(),
            StatusCode::kCorrupt);
  // More values than the page holds.
  out.clear();
  EXPECT_EQ(DecodeDeltaBinaryPacked(b.data(), b.size(), 4, &out, &used).code(),
            StatusCode::kCorrupt);
}

// A test-only DELTA_BINARY_PACKED encoder (one block of 128 values, 4 miniblocks of 32).
std::string DeltaEncode(const std::vector<int64_t>& v) {
  std::string out;
  AppendVarint(128, &out);
  AppendVarint(4, &out);
  AppendVarint(v.size(), &out);
  auto zz = [](int64_t x) {
    return (static_cast<uint64_t>(x) << 1) ^ static_cast<uint64_t>(x >> 63);
  };
  AppendVarint(v.empty() ? 0 : zz(v[0]), &out);
  if (v.size() <= 1) return out;
  std::vector<int64_t> d;
  for (size_t i = 1; i < v.size(); ++i) d.push_back(v[i] - v[i - 1]);
  for (size_t b = 0; b < d.size(); b += 128) {
    size_t e = std::min(d.size(), b + 128);
    int64_t mn = *std::min_element(d.begin() + b, d.begin() + e);
    AppendVarint(zz(mn), &out);
    std::vector<uint32_t> adj(128, 0);
    for (size_t i = b; i < e; ++i) adj[i - b] = static_cast<uint32_t>(d[i] - mn);
    int widths[4];
    for (int m = 0; m < 4; ++m) {
      uint32_t mx = *std::max_element(adj.begin() + m * 32, adj.begin() + m * 32 + 32);
      widths[m] = BitWidth(mx);
      out.push_back(static_cast<char>(widths[m]));
    }
    for (int m = 0; m < 4 && b + m * 32 < e; ++m) {
      std::string packed(static_cast<size_t>(32 * widths[m] / 8), '\0');
      for (int i = 0; i < 32; ++i) {
        for (int k = 0; k < widths[m]; ++k) {
          if ((adj[m * 32 + i] >> k) & 1) {
            size_t bit = static_cast<size_t>(i * widths[m] + k);
            packed[bit / 8] = static_cast<char>(packed[bit / 8] | (1 << (bit % 8)));
          }
        }
      }
      out += packed;
    }
  }
  return out;
}

TEST(ParquetEncoding, DeltaByteArraysRebuildPrefixes) {
  std::vector<std::string> words = {"axis", "axle", "babble", "babyhood"};
  std::string enc = DeltaEncode({0, 2, 0, 3});
  enc += DeltaEncode({4, 2, 6, 5});
  enc += "axislebabbleyhood";
  std::vector<std::string> out;
  ASSERT_TRUE(
      DecodeDeltaByteArray(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(), 4, &out).ok());
  EXPECT_EQ(out, words);
  // A prefix longer than the previous value is corrupt.
  std::string bad = DeltaEncode({0, 9}) + DeltaEncode({1, 1}) + "ab";
  out.clear();
  EXPECT_EQ(DecodeDeltaByteArray(reinterpret_cast<const uint8_t*>(bad.data()), bad.size(), 2, &out)
                .code(),
            StatusCode::kCorrupt);
  // DELTA_LENGTH_BYTE_ARRAY with a length beyond the data.
  std::string dl = DeltaEncode({5, 50}) + "Hello";
  out.clear();
  EXPECT_EQ(
      DecodeDeltaLengthByteArray(reinterpret_cast<const uint8_t*>(dl.data()), dl.size(), 2, &out)
          .code(),
      StatusCode::kCorrupt);
}

TEST(ParquetEncoding, DeltaRoundTripsManyBlocks) {
  std::vector<int64_t> v;
  std::mt19937_64 rng(3);
  for (int i = 0; i < 1000; ++i) v.push_back(static_cast<int64_t>(rng() % 100000) - 50000);
  v.push_back(-2000000000);
  std::string enc = DeltaEncode(v);
  std::vector<int64_t> out;
  size_t used;
  ASSERT_TRUE(DecodeDeltaBinaryPacked(reinterpret_cast<const uint8_t*>(enc.data()), enc.size(),
                                      10000, &out, &used)
                  .ok());
  EXPECT_EQ(out, v);
}

TEST(ParquetEncoding, ByteStreamSplitInterleavesBytes) {
  std::vector<float> f = {1.5f, -2.25f, 3e7f};
  std::string plain(reinterpret_cast<const char*>(f.data()), 12), split(12, '\0');
  for (int i = 0; i < 3; ++i) {
    for (int k = 0; k < 4; ++k) split[k * 3 + i] = plain[i * 4 + k];
  }
  std::string out;
  ASSERT_TRUE(
      DecodeByteStreamSplit(reinterpret_cast<const uint8_t*>(split.data()), 12, 4, 3, &out).ok());
  EXPECT_EQ(out, plain);
  EXPECT_EQ(
      DecodeByteStreamSplit(reinterpret_cast<const uint8_t*>(split.data()), 11, 4, 3, &out).code(),
      StatusCode::kCorrupt);
}

// ---------------------------------------------------------------------------------------------
// Codecs

TEST(ParquetCodec, RoundTripsWritableCodecs) {
  std::string in;
  for (int i = 0; i < 5000; ++i) in += "row " + std::to_string(i % 97) + ";";
  for (Codec c : {Codec::kUncompressed, Codec::kSnappy, Codec::kGzip, Codec::kZstd}) {
    std::string comp, back;
    ASSERT_TRUE(Compress(c, in, &comp).ok()) << CodecName(c);
    ASSERT_TRUE(Decompress(c, comp, in.size(), &back).ok()) << CodecName(c);
    EXPECT_EQ(back, in) << CodecName(c);
    if (c != Codec::kUncompressed) {
      EXPECT_LT(comp.size(), in.size() / 3) << CodecName(c);
      // A wrong size in the page header is corrupt, not a crash.
      EXPECT_FALSE(Decompress(c, comp, in.size() + 1, &back).ok()) << CodecName(c);
      std::string garbage = comp.substr(0, comp.size() / 2);
      EXPECT_FALSE(Decompress(c, garbage, in.size(), &back).ok()) << CodecName(c);
    }
  }
}

TEST(ParquetCodec, ReadsLz4RawHadoopLz4AndBrotli) {
  std::string in(100000, 'a');
  for (size_t i = 0; i < in.size(); i += 7) in[i] = static_cast<char>('a' + i % 26);
  std::string raw(static_cast<size_t>(LZ4_compressBound(static_cast<int>(in.size()))), '\0');
  int n = LZ4_compress_default(in.data(), raw.data(), static_cast<int>(in.size()),
                               static_cast<int>(raw.size()));
  raw.resize(static_cast<size_t>(n));
  std::string out;
  ASSERT_TRUE(Decompress(Codec::kLz4Raw, raw, in.size(), &out).ok());
  EXPECT_EQ(out, in);
  // LZ4 (Hadoop framing): [BE uncompressed size][BE compressed size][block].
  auto be32 = [](uint32_t v) {
    std::string s(4, '\0');
    for (int i = 0; i < 4; ++i) s[i] = static_cast<char>(v >> (24 - 8 * i));
    return s;
  };
  std::string hadoop =
      be32(static_cast<uint32_t>(in.size())) + be32(static_cast<uint32_t>(n)) + raw;
  out.clear();
  ASSERT_TRUE(Decompress(Codec::kLz4, hadoop, in.size(), &out).ok());
  EXPECT_EQ(out, in);
  out.clear();
  ASSERT_TRUE(Decompress(Codec::kLz4, raw, in.size(), &out).ok()) << "raw fallback";
  EXPECT_EQ(out, in);
  std::string br(BrotliEncoderMaxCompressedSize(in.size()), '\0');
  size_t brn = br.size();
  ASSERT_TRUE(BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, in.size(),
                                    reinterpret_cast<const uint8_t*>(in.data()), &brn,
                                    reinterpret_cast<uint8_t*>(br.data())));
  br.resize(brn);
  out.clear();
  ASSERT_TRUE(Decompress(Codec::kBrotli, br, in.size(), &out).ok());
  EXPECT_EQ(out, in);
  EXPECT_EQ(Decompress(Codec::kLzo, br, in.size(), &out).code(), StatusCode::kUnimplemented);
}

// ---------------------------------------------------------------------------------------------
// Writer + reader round trips, nested assembly

Schema NestedSchema() {
  TypePtr image = DataType::Struct(
      {Field{"bytes", DataType::Binary(), true}, Field{"path", DataType::String(), true}});
  return Schema{{
      Field{"id", DataType::Int64(), false},
      Field{"flag", DataType::Bool(), true},
      Field{"i32", DataType::Int32(), true},
      Field{"f", DataType::Float(), true},
      Field{"d", DataType::Double(), true},
      Field{"s", DataType::String(), true},
      Field{"day", DataType::Date32(), true},
      Field{"ts", DataType::Timestamp(table::TimeUnit::kMicros, true), true},
      Field{"tsn", DataType::Timestamp(table::TimeUnit::kNanos, false), true},
      Field{"dec", DataType::Decimal(12, 3), true},
      Field{"images", DataType::List(image), true},
      Field{"lol", DataType::List(DataType::List(DataType::Int32()), false), true},
      Field{"m", DataType::Map(DataType::String(), DataType::List(DataType::Int64())), true},
      Field{"st",
            DataType::Struct(
                {Field{"a", DataType::Int32(), true},
                 Field{"inner", DataType::Struct({Field{"b", DataType::String(), true}}), true}}),
            true},
      Field{"nothing", DataType::Null(), true},
  }};
}

RecordBatch NestedBatch(int64_t first, int64_t rows) {
  Schema schema = NestedSchema();
  RecordBatch b = RecordBatch::Empty(schema);
  for (int64_t r = first; r < first + rows; ++r) {
    auto& c = b.columns;
    c[0].AppendInt(r);
    if (r % 7 == 0)
      c[1].AppendNull();
    else
      c[1].AppendBool(r % 2 == 0);
    c[2].AppendInt(static_cast<int32_t>(r * 2654435761u));
    if (r % 5 == 0)
      c[3].AppendNull();
    else
      c[3].AppendDouble(static_cast<float>(r) / 8);
    c[4].AppendDouble(static_cast<double>(r) / 3 - 100);
    if (r % 11 == 0)
      c[5].AppendNull();
    else
      c[5].AppendBytes("value " + std::to_string(r % 13));
    c[6].AppendInt(r - 5000);
    c[7].AppendInt(r * 1000003 - 7);
    c[8].AppendInt(r * 1000000007LL);
    if (r % 3 == 0)
      c[9].AppendNull();
    else
      c[9].AppendInt(r * 1001 - 99999);
    // images: null, empty, or 1-2 {bytes, path} with nulls inside.
    Column& images = c[10];
    if (r % 9 == 0) {
      images.AppendNull();
    } else {
      for (int k = 0; k < static_cast<int>(r % 3); ++k) {
        Column& img = images.child(0);
        if (k == 1 && r % 4 == 0) {
          img.AppendNull();
          continue;
        }
        img.child(0).AppendBytes(std::string("\x89PNG\0", 5) + std::to_string(r * 10 + k));
        if (k == 0)
          img.child(1).AppendBytes("img" + std::to_string(r) + ".png");
        else
          img.child(1).AppendNull();
        img.CloseStruct();
      }
      images.CloseList();
    }
    // lol: [[r], [], [r, r+1]] or null or [].
    Column& lol = c[11];
    if (r % 10 == 3) {
      lol.AppendNull();
    } else if (r % 10 == 4) {
      lol.CloseList();
    } else {
      Column& inner = lol.child(0);
      inner.child(0).AppendInt(static_cast<int32_t>(r));
      inner.CloseList();
      inner.CloseList();
      inner.child(0).AppendInt(static_cast<int32_t>(r));
      if (r % 2)
        inner.child(0).AppendNull();
      else
        inner.child(0).AppendInt(static_cast<int32_t>(r + 1));
      inner.CloseList();
      lol.CloseList();
    }
    // m: {"k<r>": [r], "z": null}
    Column& m = c[12];
    if (r % 8 == 0) {
      m.AppendNull();
    } else {
      Column& e = m.child(0);
      e.child(0).AppendBytes("k" + std::to_string(r));
      e.child(1).child(0).AppendInt(r);
      e.child(1).CloseList();
      e.CloseStruct();
      e.child(0).AppendBytes("z");
      e.child(1).AppendNull();
      e.CloseStruct();
      m.CloseList();
    }
    Column& st = c[13];
    if (r % 6 == 0) {
      st.AppendNull();
    } else {
      st.child(0).AppendInt(static_cast<int32_t>(r));
      if (r % 4 == 1) {
        st.child(1).AppendNull();
      } else {
        st.child(1).child(0).AppendBytes("deep" + std::to_string(r));
        st.child(1).CloseStruct();
      }
      st.CloseStruct();
    }
    c[14].AppendNull();
  }
  EXPECT_TRUE(b.Validate().ok()) << b.Validate().ToString();
  return b;
}

std::vector<std::string> JsonRows(const RecordBatch& b) {
  std::vector<std::string> out;
  for (int64_t r = 0; r < b.num_rows(); ++r) {
    std::string s;
    table::AppendRowJson(b, r, &s);
    out.push_back(std::move(s));
  }
  return out;
}

Status WriteFile(const std::string& path, const std::vector<RecordBatch>& batches,
                 const io::WriteOptions& wo, const ParquetWriterOptions& po = {}) {
  SF_ASSIGN_OR_RAISE(auto sink, OpenParquetSink(path, batches.at(0).schema, wo, po));
  for (const auto& b : batches) SF_RETURN_NOT_OK(sink->Write(b));
  return sink->Finish();
}

Result<std::vector<std::string>> ReadRows(const std::vector<std::string>& files,
                                          io::ReadOptions ro = {}, int64_t* batches = nullptr,
                                          table::Schema* schema = nullptr) {
  SF_ASSIGN_OR_RAISE(auto src, OpenParquetSource(files, ro));
  if (schema) *schema = src->schema();
  std::vector<std::string> rows;
  int64_t n = 0;
  while (true) {
    SF_ASSIGN_OR_RAISE(auto b, src->Next());
    if (!b) break;
    ++n;
    SF_RETURN_NOT_OK(b->Validate());
    for (auto& r : JsonRows(*b)) rows.push_back(std::move(r));
  }
  if (batches) *batches = n;
  return rows;
}

TEST(ParquetRoundTrip, NestedTypesThroughEveryWritableCodecAndPageVersion) {
  TempDir dir;
  std::vector<RecordBatch> batches = {NestedBatch(0, 300), NestedBatch(300, 457)};
  std::vector<std::string> want = JsonRows(batches[0]);
  for (auto& r : JsonRows(batches[1])) want.push_back(r);
  for (const char* codec : {"none", "snappy", "zstd", "gzip"}) {
    for (int version : {1, 2}) {
      std::string path = dir.File(std::string("t_") + codec + std::to_string(version) + ".parquet");
      io::WriteOptions wo;
      wo.compression = codec;
      wo.row_group_bytes = 20000;  // several row groups
      ParquetWriterOptions po;
      po.data_page_version = version;
      po.page_bytes = 2000;  // several pages per chunk
      Status st = WriteFile(path, batches, wo, po);
      ASSERT_TRUE(st.ok()) << st.ToString();
      io::ReadOptions ro;
      ro.batch_rows = 100;
      table::Schema schema;
      auto rows = ReadRows({path}, ro, nullptr, &schema);
      ASSERT_TRUE(rows.ok()) << rows.status().ToString();
      EXPECT_EQ(schema.ToString(), NestedSchema().ToString());
      ASSERT_EQ(rows->size(), want.size()) << codec << version;
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_EQ((*rows)[i], want[i]) << codec << " v" << version << " row " << i;
      }
    }
  }
}

TEST(ParquetRoundTrip, BatchesNeverSpanRowGroupsAndProjectionKeepsOrder) {
  TempDir dir;
  std::string path = dir.File("rg.parquet");
  io::WriteOptions wo;
  wo.row_group_bytes = 30000;
  ASSERT_TRUE(WriteFile(path, {NestedBatch(0, 1000)}, wo).ok());
  auto src = OpenParquetSource({path}, io::ReadOptions{{"s", "id"}, 1 << 20});
  ASSERT_TRUE(src.ok()) << src.status().ToString();
  EXPECT_EQ((*src)->schema().fields.size(), 2u);
  EXPECT_EQ((*src)->schema().fields[0].name, "s");
  EXPECT_EQ((*src)->num_rows(), 1000);
  int64_t total = 0, batches = 0, expect_id = 0;
  while (true) {
    auto b = (*src)->Next();
    ASSERT_TRUE(b.ok());
    if (!*b) break;
    ++batches;
    for (int64_t r = 0; r < (*b)->num_rows(); ++r) {
      EXPECT_EQ((*b)->columns[1].GetInt(r), expect_id++);
    }
    total += (*b)->num_rows();
  }
  EXPECT_EQ(total, 1000);
  EXPECT_GT(batches, 1) << "one batch per row group even when batch_rows is huge";
  auto twice = OpenParquetSource({path}, io::ReadOptions{{"s", "s"}, 10});
  EXPECT_EQ(twice.status().code(), StatusCode::kInvalidArgument);
  auto missing = OpenParquetSource({path}, io::ReadOptions{{"nope"}, 10});
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("nope"), std::string::npos);
}

TEST(ParquetRoundTrip, ManyFilesAreOneStreamAndMustShareASchema) {
  TempDir dir;
  ASSERT_TRUE(WriteFile(dir.File("a.parquet"), {NestedBatch(0, 10)}, {}).ok());
  ASSERT_TRUE(WriteFile(dir.File("b.parquet"), {NestedBatch(10, 15)}, {}).ok());
  auto rows = ReadRows({dir.File("a.parquet"), dir.File("b.parquet")});
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(JsonRows(NestedBatch(0, 25)), *rows);
  Schema other{{Field{"x", DataType::Int32(), true}}};
  RecordBatch ob = RecordBatch::Empty(other);
  ob.columns[0].AppendInt(1);
  ASSERT_TRUE(WriteFile(dir.File("c.parquet"), {ob}, {}).ok());
  auto mixed = OpenParquetSource({dir.File("a.parquet"), dir.File("c.parquet")}, {});
  EXPECT_EQ(mixed.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(mixed.status().message().find("c.parquet"), std::string::npos);
}

// Rewrites a file's footer schema with `edit`; levels stay as written, so the edit must keep each
// leaf's maximum definition and repetition levels.
void EditSchema(const std::string& path,
                const std::function<void(std::vector<SchemaElement>*)>& edit) {
  std::string data = ReadAll(path);
  uint32_t len;
  std::memcpy(&len, data.data() + data.size() - 8, 4);
  size_t start = data.size() - 8 - len;
  FileMetaData md;
  ASSERT_TRUE(
      ParseFileMetaData(reinterpret_cast<const uint8_t*>(data.data()) + start, len, &md).ok());
  edit(&md.schema);
  std::string footer;
  SerializeFileMetaData(md, &footer);
  data.resize(start);
  data += footer;
  uint32_t flen = static_cast<uint32_t>(footer.size());
  data.append(reinterpret_cast<const char*>(&flen), 4);
  data += "PAR1";
  WriteAll(path, data);
}

TEST(ParquetReader, ReadsLegacyTwoLevelListsAndBareRepeatedFields) {
  TempDir dir;
  TypePtr xy = DataType::Struct(
      {Field{"x", DataType::Int32(), false}, Field{"y", DataType::String(), false}});
  Schema s{{Field{"bare", DataType::List(DataType::Int32(), false), false},
            Field{"two", DataType::List(DataType::Int32(), false), true},
            Field{"arr", DataType::List(xy, false), true}}};
  RecordBatch b = RecordBatch::Empty(s);
  for (int r = 0; r < 50; ++r) {
    for (int k = 0; k < r % 3; ++k) b.columns[0].child(0).AppendInt(r * 10 + k);
    b.columns[0].CloseList();
    if (r % 4 == 0) {
      b.columns[1].AppendNull();
    } else {
      for (int k = 0; k < r % 2; ++k) b.columns[1].child(0).AppendInt(r);
      b.columns[1].CloseList();
    }
    if (r % 5 == 0) {
      b.columns[2].AppendNull();
    } else {
      Column& e = b.columns[2].child(0);
      e.child(0).AppendInt(r);
      e.child(1).AppendBytes("y" + std::to_string(r));
      e.CloseStruct();
      b.columns[2].CloseList();
    }
  }
  std::string path = dir.File("legacy.parquet");
  ASSERT_TRUE(WriteFile(path, {b}, {}).ok());
  EditSchema(path, [](std::vector<SchemaElement>* se) {
    // Written: bare (LIST) {list {element}}, two (LIST) {list {element}},
    //          arr (LIST) {list {element {x, y}}}.
    std::vector<SchemaElement> out;
    out.push_back((*se)[0]);
    SchemaElement bare = (*se)[3];  // `repeated int32 bare`, no annotation
    bare.name = "bare";
    bare.repetition = Repetition::kRepeated;
    out.push_back(bare);
    out.push_back((*se)[4]);        // two (LIST)
    SchemaElement elem = (*se)[6];  // `repeated int32 element` directly under the LIST group
    elem.repetition = Repetition::kRepeated;
    out.push_back(elem);
    out.push_back((*se)[7]);         // arr (LIST)
    SchemaElement array = (*se)[8];  // repeated group named "array" holding x and y
    array.name = "array";
    array.num_children = 2;
    out.push_back(array);
    out.push_back((*se)[10]);
    out.push_back((*se)[11]);
    *se = out;
  });
  {
    std::string data = ReadAll(path);
    uint32_t len;
    std::memcpy(&len, data.data() + data.size() - 8, 4);
    FileMetaData md;
    ASSERT_TRUE(ParseFileMetaData(
                    reinterpret_cast<const uint8_t*>(data.data()) + data.size() - 8 - len, len, &md)
                    .ok());
    ASSERT_EQ(md.schema.size(), 8u) << "the footer now holds the legacy layouts";
    EXPECT_EQ(md.schema[1].repetition, Repetition::kRepeated);
    EXPECT_EQ(md.schema[5].name, "array");
  }
  table::Schema got;
  auto rows = ReadRows({path}, {}, nullptr, &got);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(got.fields[0].type->ToString(), "list<int32>");
  EXPECT_EQ(got.fields[2].type->ToString(), "list<struct<x: int32, y: string>>");
  EXPECT_EQ(*rows, JsonRows(b));
}

TEST(ParquetWriter, DictionaryForRepetitiveStringsPlainForUniqueOnes) {
  TempDir dir;
  Schema s{{Field{"rep", DataType::String(), true}, Field{"uniq", DataType::Binary(), true}}};
  RecordBatch b = RecordBatch::Empty(s);
  for (int i = 0; i < 5000; ++i) {
    b.columns[0].AppendBytes(i % 3 ? "common value" : "other value");
    b.columns[1].AppendBytes("unique-" + std::to_string(i * 7919));
  }
  io::WriteOptions wo;
  wo.compression = "none";
  ASSERT_TRUE(WriteFile(dir.File("d.parquet"), {b}, wo).ok());
  std::string data = ReadAll(dir.File("d.parquet"));
  // Uncompressed: the dictionary holds each repeated string once; the unique column is PLAIN.
  size_t count = 0;
  for (size_t p = data.find("common value"); p != std::string::npos;
       p = data.find("common value", p + 1))
    ++count;
  EXPECT_LE(count, 3u) << "dictionary page plus min/max statistics only";
  auto rows = ReadRows({dir.File("d.parquet")});
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, JsonRows(b));
}

TEST(ParquetWriter, PublishesOnlyOnFinishAndCleansUpOtherwise) {
  TempDir dir;
  std::string path = dir.File("out.parquet");
  std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  {
    auto sink = OpenParquetSink(path, NestedSchema(), {});
    ASSERT_TRUE(sink.ok());
    ASSERT_TRUE((*sink)->Write(NestedBatch(0, 5)).ok());
    EXPECT_TRUE(fs::exists(tmp));
    EXPECT_FALSE(fs::exists(path));
  }
  EXPECT_FALSE(fs::exists(tmp)) << "destructor without Finish removes the temporary file";
  EXPECT_FALSE(fs::exists(path));
  auto sink = OpenParquetSink(path, NestedSchema(), {});
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write(NestedBatch(0, 5)).ok());
  ASSERT_TRUE((*sink)->Finish().ok());
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(tmp));
}

TEST(ParquetWriter, RejectsNullInRequiredFieldAndUnknownCodec) {
  TempDir dir;
  Schema s{{Field{"id", DataType::Int64(), false}}};
  RecordBatch b = RecordBatch::Empty(s);
  b.columns[0].AppendNull();
  auto sink = OpenParquetSink(dir.File("x.parquet"), s, {});
  ASSERT_TRUE(sink.ok());
  Status st = (*sink)->Write(b);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("'id'"), std::string::npos) << st.message();
  io::WriteOptions wo;
  wo.compression = "lzo";
  EXPECT_EQ(OpenParquetSink(dir.File("y.parquet"), s, wo).status().code(),
            StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------------------------
// Corrupt and truncated files

TEST(ParquetCorrupt, DamagedPageNamesFileRowGroupColumnAndPage) {
  TempDir dir;
  std::string path = dir.File("bad.parquet");
  Schema s{{Field{"a", DataType::Int64(), true}, Field{"txt", DataType::String(), true}}};
  RecordBatch b = RecordBatch::Empty(s);
  for (int i = 0; i < 2000; ++i) {
    b.columns[0].AppendInt(i);
    b.columns[1].AppendBytes("payload-" + std::to_string(i) + std::string(50, 'q'));
  }
  io::WriteOptions wo;
  wo.compression = "zstd";
  ASSERT_TRUE(WriteFile(path, {b}, wo).ok());
  std::string data = ReadAll(path);
  // Damage the body of txt's first data page, keeping its header and the footer intact.
  uint32_t footer_len;
  std::memcpy(&footer_len, data.data() + data.size() - 8, 4);
  FileMetaData md;
  ASSERT_TRUE(ParseFileMetaData(
                  reinterpret_cast<const uint8_t*>(data.data()) + data.size() - 8 - footer_len,
                  footer_len, &md)
                  .ok());
  int64_t page = md.row_groups.at(0).columns.at(1).meta_data->data_page_offset;
  PageHeader ph;
  size_t hs = 0;
  ASSERT_TRUE(ParsePageHeader(reinterpret_cast<const uint8_t*>(data.data()) + page,
                              data.size() - page, &ph, &hs)
                  .ok());
  for (int i = 0; i < std::min(ph.compressed_page_size, 40); ++i) {
    data[page + hs + i] = static_cast<char>(data[page + hs + i] ^ 0x5a);
  }
  WriteAll(path, data);
  auto rows = ReadRows({path});
  ASSERT_FALSE(rows.ok());
  const std::string& m = rows.status().message();
  EXPECT_NE(m.find("bad.parquet"), std::string::npos) << m;
  EXPECT_NE(m.find("row group 0"), std::string::npos) << m;
  EXPECT_NE(m.find("column 'txt'"), std::string::npos) << m;
  EXPECT_NE(m.find("page"), std::string::npos) << m;
}

TEST(ParquetCorrupt, EveryTruncationAndByteFlipFailsCleanly) {
  TempDir dir;
  std::string path = dir.File("t.parquet");
  io::WriteOptions wo;
  wo.compression = "snappy";
  wo.row_group_bytes = 4000;
  ASSERT_TRUE(WriteFile(path, {NestedBatch(0, 40)}, wo).ok());
  std::string data = ReadAll(path);
  std::string cut = dir.File("cut.parquet");
  for (size_t n = 0; n < data.size(); n += std::max<size_t>(1, data.size() / 300)) {
    WriteAll(cut, data.substr(0, n));
    auto rows = ReadRows({cut});
    EXPECT_FALSE(rows.ok()) << "truncated at " << n;
    if (!rows.ok()) {
      EXPECT_NE(rows.status().message().find("cut.parquet"), std::string::npos)
          << rows.status().message();
    }
  }
  std::mt19937 rng(11);
  for (int i = 0; i < 400; ++i) {
    std::string bad = data;
    for (int k = 0; k < 3; ++k) bad[rng() % bad.size()] = static_cast<char>(rng());
    WriteAll(cut, bad);
    auto rows = ReadRows({cut});  // any Status is fine; a crash or sanitizer report is not
    if (!rows.ok()) {
      EXPECT_NE(rows.status().message().find("cut.parquet"), std::string::npos)
          << rows.status().message();
    }
  }
}

TEST(ParquetCorrupt, RejectsPagesClaimingBillionsOfLevels) {
  // A hand-built file: one optional INT32 column whose only page claims 2^30 null levels in a
  // 6-byte RLE run. The reader must refuse instead of allocating gigabytes.
  const int32_t kLevels = 1 << 30;
  std::string body;
  std::string rle;
  AppendVarint(static_cast<uint64_t>(kLevels) << 1, &rle);
  rle.push_back('\0');
  uint32_t len = static_cast<uint32_t>(rle.size());
  body.append(reinterpret_cast<const char*>(&len), 4);
  body += rle;
  PageHeader ph;
  ph.type = PageType::kDataPage;
  ph.uncompressed_page_size = ph.compressed_page_size = static_cast<int32_t>(body.size());
  ph.data_page = DataPageHeader{kLevels, Encoding::kPlain, Encoding::kRle, Encoding::kRle};
  std::string file = "PAR1";
  SerializePageHeader(ph, &file);
  file += body;
  FileMetaData md;
  md.schema.resize(2);
  md.schema[0].name = "schema";
  md.schema[0].num_children = 1;
  md.schema[1].name = "a";
  md.schema[1].type = PhysicalType::kInt32;
  md.schema[1].repetition = Repetition::kOptional;
  md.num_rows = kLevels;
  RowGroup rg;
  rg.num_rows = kLevels;
  ColumnChunk cc;
  cc.file_offset = 4;
  ColumnMetaData cm;
  cm.type = PhysicalType::kInt32;
  cm.path_in_schema = {"a"};
  cm.num_values = kLevels;
  cm.data_page_offset = 4;
  cm.total_compressed_size = cm.total_uncompressed_size = static_cast<int64_t>(file.size()) - 4;
  cc.meta_data = cm;
  rg.columns.push_back(cc);
  md.row_groups.push_back(rg);
  std::string footer;
  SerializeFileMetaData(md, &footer);
  file += footer;
  uint32_t flen = static_cast<uint32_t>(footer.size());
  file.append(reinterpret_cast<const char*>(&flen), 4);
  file += "PAR1";
  TempDir dir;
  WriteAll(dir.File("bomb.parquet"), file);
  auto rows = ReadRows({dir.File("bomb.parquet")});
  ASSERT_FALSE(rows.ok());
  EXPECT_EQ(rows.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(rows.status().message().find("claims 1073741824 values"), std::string::npos)
      << rows.status().message();
  EXPECT_NE(rows.status().message().find("column 'a', page 0"), std::string::npos)
      << rows.status().message();
}

// A file with one required column `leaf` and one uncompressed v1 data page holding `n` values
// encoded as `enc` (no levels: the column is required and flat).
std::string OnePageFile(SchemaElement leaf, const std::string& body, int32_t n, Encoding enc) {
  PageHeader ph;
  ph.type = PageType::kDataPage;
  ph.uncompressed_page_size = ph.compressed_page_size = static_cast<int32_t>(body.size());
  ph.data_page = DataPageHeader{n, enc, Encoding::kRle, Encoding::kRle};
  std::string file = "PAR1";
  SerializePageHeader(ph, &file);
  file += body;
  FileMetaData md;
  md.schema.resize(1);
  md.schema[0].name = "schema";
  md.schema[0].num_children = 1;
  leaf.repetition = Repetition::kRequired;
  md.schema.push_back(leaf);
  md.num_rows = n;
  RowGroup rg;
  rg.num_rows = n;
  ColumnChunk cc;
  cc.file_offset = 4;
  ColumnMetaData cm;
  cm.type = *leaf.type;
  cm.path_in_schema = {leaf.name};
  cm.num_values = n;
  cm.data_page_offset = 4;
  cm.total_compressed_size = cm.total_uncompressed_size = static_cast<int64_t>(file.size()) - 4;
  cc.meta_data = cm;
  rg.columns.push_back(cc);
  md.row_groups.push_back(rg);
  std::string footer;
  SerializeFileMetaData(md, &footer);
  file += footer;
  uint32_t flen = static_cast<uint32_t>(footer.size());
  file.append(reinterpret_cast<const char*>(&flen), 4);
  return file + "PAR1";
}

Result<std::vector<std::string>> ReadOnePage(SchemaElement leaf, const std::string& body, int32_t n,
                                             Encoding enc, table::Schema* schema = nullptr) {
  TempDir dir;
  WriteAll(dir.File("one.parquet"), OnePageFile(std::move(leaf), body, n, enc));
  return ReadRows({dir.File("one.parquet")}, {}, nullptr, schema);
}

SchemaElement Leaf(PhysicalType t, const char* name = "v") {
  SchemaElement se;
  se.name = name;
  se.type = t;
  return se;
}

TEST(ParquetReader, ReadsInt96TimestampsAsMicrosecondsLikeDuckDb) {
  // 2000-01-01T00:00:01.5 = Julian day 2451545, 1.5e9 ns into the day.
  std::string body(12, '\0');
  int64_t nanos = 1500000000;
  int32_t julian = 2451545;
  std::memcpy(body.data(), &nanos, 8);
  std::memcpy(body.data() + 8, &julian, 4);
  table::Schema schema;
  auto rows = ReadOnePage(Leaf(PhysicalType::kInt96), body, 1, Encoding::kPlain, &schema);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(schema.fields[0].type->ToString(), "timestamp[us]");
  EXPECT_EQ(rows->at(0), R"({"v":"2000-01-01T00:00:01.500000"})");
}

std::string Int96(int32_t julian, int64_t nanos) {
  std::string v(12, '\0');
  std::memcpy(v.data(), &nanos, 8);
  std::memcpy(v.data() + 8, &julian, 4);
  return v;
}

TEST(ParquetReader, Int96TimestampsPastTheNanosecondRangeNeverWrap) {
  // Spark's "no end": 9999-12-31T23:59:59.999999 (Julian day 5373484). In nanoseconds since
  // 1970 this overflows int64 and once read back as 1816.
  std::string body = Int96(5373484, 86399999999000) + Int96(2440588, 0) + Int96(1721426, 0);
  auto rows = ReadOnePage(Leaf(PhysicalType::kInt96), body, 3, Encoding::kPlain);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->at(0), R"({"v":"9999-12-31T23:59:59.999999"})");
  EXPECT_EQ(rows->at(1), R"({"v":"1970-01-01T00:00:00"})");
  EXPECT_EQ(rows->at(2), R"({"v":"0001-01-01T00:00:00"})");
  // A Julian day no calendar reaches is refused with a message, not wrapped.
  auto bad = ReadOnePage(Leaf(PhysicalType::kInt96), Int96(2147483647, 0), 1, Encoding::kPlain);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("INT96 timestamp (Julian day 2147483647"),
            std::string::npos)
      << bad.status().message();
}

// ---------------------------------------------------------------------------------------------
// Files laid out as other writers lay them out (apache/parquet-testing has a file for each).

struct TestPage {
  PageHeader header;
  std::string body;  // as stored (compressed when the codec says so)
};

// A file of one row group with one column chunk per entry of `chunks` (leaf i is column i). The
// chunk's offsets and sizes are set from its pages (dictionary_page_offset when the first page
// is one); `tweak` may then change the column metadata as a given writer would.
std::string CraftFile(const std::vector<SchemaElement>& leaves,
                      const std::vector<std::vector<TestPage>>& chunks, int64_t rows, Codec codec,
                      const std::function<void(size_t, ColumnMetaData*)>& tweak = {}) {
  std::string file = "PAR1";
  FileMetaData md;
  md.schema.resize(1);
  md.schema[0].name = "schema";
  md.schema[0].num_children = static_cast<int32_t>(leaves.size());
  md.num_rows = rows;
  RowGroup rg;
  rg.num_rows = rows;
  for (size_t i = 0; i < chunks.size(); ++i) {
    md.schema.push_back(leaves[i]);
    ColumnMetaData cm;
    cm.type = *leaves[i].type;
    cm.path_in_schema = {leaves[i].name};
    cm.codec = codec;
    const int64_t start = static_cast<int64_t>(file.size());
    bool data_seen = false;
    for (const TestPage& p : chunks[i]) {
      const int64_t at = static_cast<int64_t>(file.size());
      if (p.header.type == PageType::kDictionaryPage) {
        cm.dictionary_page_offset = at;
      } else if (!data_seen) {
        cm.data_page_offset = at;
        data_seen = true;
      }
      if (p.header.data_page) cm.num_values += p.header.data_page->num_values;
      if (p.header.data_page_v2) cm.num_values += p.header.data_page_v2->num_values;
      SerializePageHeader(p.header, &file);
      file += p.body;
    }
    cm.total_compressed_size = cm.total_uncompressed_size =
        static_cast<int64_t>(file.size()) - start;
    if (tweak) tweak(i, &cm);
    ColumnChunk cc;
    cc.file_offset = start;
    cc.meta_data = cm;
    rg.columns.push_back(cc);
  }
  md.row_groups.push_back(rg);
  std::string footer;
  SerializeFileMetaData(md, &footer);
  file += footer;
  uint32_t flen = static_cast<uint32_t>(footer.size());
  file.append(reinterpret_cast<const char*>(&flen), 4);
  return file + "PAR1";
}

Result<std::vector<std::string>> ReadCrafted(const std::string& file,
                                             table::Schema* schema = nullptr) {
  TempDir dir;
  WriteAll(dir.File("crafted.parquet"), file);
  return ReadRows({dir.File("crafted.parquet")}, {}, nullptr, schema);
}

PageHeader DataPageV1(int32_t n, size_t uncompressed, size_t compressed,
                      Encoding enc = Encoding::kPlain) {
  PageHeader ph;
  ph.type = PageType::kDataPage;
  ph.uncompressed_page_size = static_cast<int32_t>(uncompressed);
  ph.compressed_page_size = static_cast<int32_t>(compressed);
  ph.data_page = DataPageHeader{n, enc, Encoding::kRle, Encoding::kRle};
  return ph;
}

PageHeader DictPage(int32_t n, size_t size) {
  PageHeader ph;
  ph.type = PageType::kDictionaryPage;
  ph.uncompressed_page_size = ph.compressed_page_size = static_cast<int32_t>(size);
  ph.dictionary_page = DictionaryPageHeader{n, Encoding::kPlain};
  return ph;
}

std::string GzipMember(const std::string& in) {
  z_stream zs;
  std::memset(&zs, 0, sizeof(zs));
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

TEST(ParquetOtherWriters, GzipPageOfConcatenatedMembers) {
  // As parquet-testing's concatenated_gzip_members.parquet: 513 UINT64 values in one data page
  // compressed as two gzip members one after the other.
  std::string plain;
  for (int64_t i = 1; i <= 513; ++i) plain.append(reinterpret_cast<const char*>(&i), 8);
  std::string body = GzipMember(plain.substr(0, 4096)) + GzipMember(plain.substr(4096));
  std::string back;
  ASSERT_TRUE(Decompress(Codec::kGzip, body, plain.size(), &back).ok());
  EXPECT_EQ(back, plain);
  // Zero padding after the last member is ignored; garbage in a second member is not.
  ASSERT_TRUE(Decompress(Codec::kGzip, body + std::string(4, '\0'), plain.size(), &back).ok());
  Status bad = Decompress(Codec::kGzip, GzipMember(plain.substr(0, 4096)) + "\x1f\x8bjunk",
                          plain.size(), &back);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("member 2"), std::string::npos) << bad.message();

  SchemaElement leaf = Leaf(PhysicalType::kInt64, "long_col");
  leaf.repetition = Repetition::kRequired;
  auto rows = ReadCrafted(
      CraftFile({leaf}, {{{DataPageV1(513, plain.size(), body.size()), body}}}, 513, Codec::kGzip));
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 513u);
  EXPECT_EQ(rows->front(), R"({"long_col":1})");
  EXPECT_EQ(rows->back(), R"({"long_col":513})");
}

TEST(ParquetOtherWriters, DataPageV2WithNoValuesIsNotDecompressed) {
  // As datapage_v2_empty_datapage.snappy.parquet: one null FLOAT in a Snappy V2 page whose
  // values section is empty. Zero bytes are not a Snappy stream: they must not be inflated.
  SchemaElement leaf = Leaf(PhysicalType::kFloat, "f");
  leaf.repetition = Repetition::kOptional;
  const std::string levels("\x02\x00", 2);  // RLE run: one definition level 0
  PageHeader ph;
  ph.type = PageType::kDataPageV2;
  ph.uncompressed_page_size = ph.compressed_page_size = static_cast<int32_t>(levels.size());
  DataPageHeaderV2 h;
  h.num_values = 1;
  h.num_nulls = 1;
  h.num_rows = 1;
  h.definition_levels_byte_length = static_cast<int32_t>(levels.size());
  h.is_compressed = true;
  ph.data_page_v2 = h;
  auto rows = ReadCrafted(CraftFile({leaf}, {{{ph, levels}}}, 1, Codec::kSnappy));
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ(rows->at(0), R"({"f":null})");
}

TEST(ParquetOtherWriters, DictionaryOnlyChunksWithZeroDataPageOffsetAndColumnKeyValues) {
  // As column_chunk_key_value_metadata.parquet (parquet-cpp, Arrow 17): no rows, two INT32
  // columns whose chunks hold only an empty dictionary page, data_page_offset 0, and key-value
  // metadata on the first chunk, one key without a value.
  std::vector<SchemaElement> leaves = {Leaf(PhysicalType::kInt32, "column1"),
                                       Leaf(PhysicalType::kInt32, "column2")};
  for (auto& l : leaves) l.repetition = Repetition::kOptional;
  std::string file =
      CraftFile(leaves, {{{DictPage(0, 0), ""}}, {{DictPage(0, 0), ""}}}, 0, Codec::kUncompressed,
                [](size_t i, ColumnMetaData* cm) {
                  cm->data_page_offset = 0;
                  if (i == 0) {
                    cm->key_value_metadata = {KeyValue{"foo", "bar", true},
                                              KeyValue{"thisiskeywithoutvalue", "", false}};
                  }
                });
  table::Schema schema;
  auto rows = ReadCrafted(file, &schema);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_TRUE(rows->empty());
  ASSERT_EQ(schema.fields.size(), 2u);
  EXPECT_EQ(schema.fields[1].name, "column2");
  // The footer's key-value pairs are read, the absent value kept apart from "".
  uint32_t flen;
  std::memcpy(&flen, file.data() + file.size() - 8, 4);
  FileMetaData md;
  ASSERT_TRUE(ParseFileMetaData(
                  reinterpret_cast<const uint8_t*>(file.data()) + file.size() - 8 - flen, flen, &md)
                  .ok());
  const auto& kv = md.row_groups.at(0).columns.at(0).meta_data->key_value_metadata;
  ASSERT_EQ(kv.size(), 2u);
  EXPECT_EQ(kv[0].value, "bar");
  EXPECT_FALSE(kv[1].has_value);
}

// A dictionary-encoded INT32 chunk: dictionary [7, 9], data page indices [0, 1, 0].
std::vector<TestPage> DictChunk() {
  std::string dict;
  for (int32_t v : {7, 9}) dict.append(reinterpret_cast<const char*>(&v), 4);
  const std::string indices("\x01\x03\x02", 3);  // bit width 1; one bit-packed group: 0,1,0
  return {{DictPage(2, dict.size()), dict},
          {DataPageV1(3, indices.size(), indices.size(), Encoding::kRleDictionary), indices}};
}

TEST(ParquetOtherWriters, ChunkSizeShortByTheDictionaryHeaderAsOldParquetMrWroteIt) {
  // parquet-mr 1.2.8 and older left the dictionary page header out of total_compressed_size
  // (PARQUET-816): the last page runs past the recorded end by that header's size.
  SchemaElement leaf = Leaf(PhysicalType::kInt32, "v");
  leaf.repetition = Repetition::kRequired;
  std::string dict_header;
  SerializePageHeader(DictChunk()[0].header, &dict_header);
  auto rows = ReadCrafted(
      CraftFile({leaf}, {DictChunk()}, 3, Codec::kUncompressed, [&](size_t, ColumnMetaData* cm) {
        cm->total_compressed_size -= static_cast<int64_t>(dict_header.size());
      }));
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  ASSERT_EQ(rows->size(), 3u);
  EXPECT_EQ(rows->at(1), R"({"v":9})");
  // A dictionary page whose header claims far more than the chunk holds is refused, and the
  // message says which writer bug it looks like.
  std::vector<TestPage> chunk = DictChunk();
  chunk[0].header.compressed_page_size = 5000;
  chunk[0].header.uncompressed_page_size = 5000;
  auto bad = ReadCrafted(CraftFile({leaf}, {chunk}, 3, Codec::kUncompressed));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("runs"), std::string::npos) << bad.status().message();
  EXPECT_NE(bad.status().message().find("PARQUET-816"), std::string::npos)
      << bad.status().message();
}

TEST(ParquetReader, ReadsDecimalsFromByteArraysAndWideOnesAsText) {
  // BYTE_ARRAY decimal(10,2): -1.25 as big-endian two's complement in 1 byte (0x83 = -125).
  SchemaElement d = Leaf(PhysicalType::kByteArray, "d");
  d.converted_type = converted::kDecimal;
  d.precision = 10;
  d.scale = 2;
  std::string body =
      std::string("\x01\x00\x00\x00\x83", 5) + std::string("\x02\x00\x00\x00\x01\x00", 6);
  auto rows = ReadOnePage(d, body, 2, Encoding::kPlain);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(*rows, (std::vector<std::string>{R"({"d":"-1.25"})", R"({"d":"2.56"})"}));
  // FIXED_LEN_BYTE_ARRAY(16) decimal(38,3) beyond int64: read as exact text.
  SchemaElement w = Leaf(PhysicalType::kFixedLenByteArray, "w");
  w.type_length = 16;
  w.logical.kind = LogicalType::kDecimal;
  w.logical.precision = 38;
  w.logical.scale = 3;
  std::string big(16, '\xff');  // -1
  std::string huge(16, '\0');
  huge[0] = 0x01;  // 2^120
  table::Schema schema;
  rows = ReadOnePage(w, big + huge, 2, Encoding::kPlain, &schema);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(schema.fields[0].type->ToString(), "string");
  EXPECT_EQ(*rows, (std::vector<std::string>{R"({"w":"-0.001"})",
                                             R"({"w":"1329227995784915872903807060280344.576"})"}));
}

TEST(ParquetReader, ReadsDeltaByteArrayRleBooleansAndHalfFloats) {
  SchemaElement s = Leaf(PhysicalType::kByteArray, "s");
  s.converted_type = converted::kUtf8;
  std::string body = DeltaEncode({0, 2, 0, 3}) + DeltaEncode({4, 2, 6, 5}) + "axislebabbleyhood";
  auto rows = ReadOnePage(s, body, 4, Encoding::kDeltaByteArray);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(rows->at(3), R"({"s":"babyhood"})");
  // RLE booleans: 4-byte length, then a bit-packed group: 1,0,1,1,0,0,0,1.
  std::string rle = std::string("\x02\x00\x00\x00\x03\x8d", 6);
  rows = ReadOnePage(Leaf(PhysicalType::kBoolean, "b"), rle, 8, Encoding::kRle);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  std::string got;
  for (const auto& r : *rows) got += r.find("true") != std::string::npos ? '1' : '0';
  EXPECT_EQ(got, "10110001");
  // FLOAT16: 0x3e00 = 1.5, 0xc000 = -2.
  SchemaElement h = Leaf(PhysicalType::kFixedLenByteArray, "h");
  h.type_length = 2;
  h.logical.kind = LogicalType::kFloat16;
  rows = ReadOnePage(h, std::string("\x00\x3e\x00\xc0", 4), 2, Encoding::kPlain);
  ASSERT_TRUE(rows.ok()) << rows.status().ToString();
  EXPECT_EQ(*rows, (std::vector<std::string>{R"({"h":1.5})", R"({"h":-2.0})"}));
}

TEST(ParquetCorrupt, RegressionInputsFailCleanly) {
  fs::path dir = fs::path(STRUCTFLOW_SOURCE_DIR) / "src/io/parquet/testdata/regress";
  int n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file() || e.path().extension() == ".md") continue;
    ++n;
    auto rows = ReadRows({e.path().string()});
    if (!rows.ok()) {
      EXPECT_NE(rows.status().message().find(e.path().filename().string()), std::string::npos)
          << rows.status().message();
    }
  }
  EXPECT_GT(n, 0) << "regression corpus missing from " << dir;
}

TEST(ParquetCorrupt, NotParquetAndMissingFile) {
  TempDir dir;
  WriteAll(dir.File("x.parquet"), "hello, this is not parquet at all");
  auto a = OpenParquetSource({dir.File("x.parquet")}, {});
  EXPECT_EQ(a.status().code(), StatusCode::kCorrupt);
  EXPECT_NE(a.status().message().find("x.parquet"), std::string::npos);
  auto b = OpenParquetSource({dir.File("missing.parquet")}, {});
  EXPECT_EQ(b.status().code(), StatusCode::kIOError);
}

}  // namespace
}  // namespace structflow::io::parquet
