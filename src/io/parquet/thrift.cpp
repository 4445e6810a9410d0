#include "io/parquet/thrift.h"

#include <fmt/format.h>

#include <cstring>

namespace structflow::io::parquet {
namespace {

constexpr int kMaxDepth = 64;

Status Truncated(size_t pos) {
  return Status::Corrupt(fmt::format("thrift data truncated at byte {}", pos));
}

int64_t ZigZag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }
uint64_t ToZigZag(int64_t v) {
  return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}

}  // namespace

Status CompactReader::BeginStruct() {
  if (last_ids_.size() >= kMaxDepth) {
    return Status::Corrupt("thrift structs nested too deeply");
  }
  last_ids_.push_back(last_id_);
  last_id_ = 0;
  return Status::OK();
}

void CompactReader::EndStruct() {
  if (!last_ids_.empty()) {
    last_id_ = last_ids_.back();
    last_ids_.pop_back();
  }
}

Status CompactReader::ReadVarint(uint64_t* v) {
  uint64_t result = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (p_ >= end_) return Truncated(position());
    uint8_t b = *p_++;
    if (shift == 63 && (b & 0x7e) != 0) return Status::Corrupt("thrift varint overflows 64 bits");
    result |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) {
      *v = result;
      return Status::OK();
    }
  }
  return Status::Corrupt("thrift varint longer than 10 bytes");
}

Status CompactReader::ReadI64(int64_t* v) {
  uint64_t u;
  SF_RETURN_NOT_OK(ReadVarint(&u));
  *v = ZigZag(u);
  return Status::OK();
}

Status CompactReader::ReadI32(int32_t* v) {
  int64_t x;
  SF_RETURN_NOT_OK(ReadI64(&x));
  if (x < INT32_MIN || x > INT32_MAX) return Status::Corrupt("thrift i32 out of range");
  *v = static_cast<int32_t>(x);
  return Status::OK();
}

Status CompactReader::ReadByte(int8_t* v) {
  if (p_ >= end_) return Truncated(position());
  *v = static_cast<int8_t>(*p_++);
  return Status::OK();
}

Status CompactReader::ReadInt(CType type, int64_t* v) {
  switch (type) {
    case CType::kByte: {
      int8_t b = 0;
      SF_RETURN_NOT_OK(ReadByte(&b));
      *v = b;
      return Status::OK();
    }
    case CType::kI16:
    case CType::kI32:
    case CType::kI64:
      return ReadI64(v);
    default:
      return Status::Corrupt(
          fmt::format("thrift field has type {}, expected an integer", static_cast<int>(type)));
  }
}

Status CompactReader::ReadDouble(double* v) {
  if (end_ - p_ < 8) return Truncated(position());
  std::memcpy(v, p_, 8);
  p_ += 8;
  return Status::OK();
}

Status CompactReader::ReadBinary(std::string_view* v) {
  uint64_t n;
  SF_RETURN_NOT_OK(ReadVarint(&n));
  if (n > static_cast<uint64_t>(end_ - p_)) return Truncated(position());
  *v = std::string_view(reinterpret_cast<const char*>(p_), n);
  p_ += n;
  return Status::OK();
}

Status CompactReader::ReadBinary(std::string* v) {
  std::string_view s;
  SF_RETURN_NOT_OK(ReadBinary(&s));
  v->assign(s);
  return Status::OK();
}

Status CompactReader::ReadBoolElement(bool* v) {
  if (p_ >= end_) return Truncated(position());
  *v = *p_++ == 1;
  return Status::OK();
}

Status CompactReader::ReadFieldHeader(CType* type, int16_t* id) {
  if (p_ >= end_) return Truncated(position());
  uint8_t b = *p_++;
  *type = static_cast<CType>(b & 0x0f);
  if (*type == CType::kStop) return Status::OK();
  if (b & 0x0f0) {
    *id = static_cast<int16_t>(last_id_ + (b >> 4));
  } else {
    int64_t x;
    SF_RETURN_NOT_OK(ReadI64(&x));
    if (x < INT16_MIN || x > INT16_MAX) return Status::Corrupt("thrift field id out of range");
    *id = static_cast<int16_t>(x);
  }
  last_id_ = *id;
  if (static_cast<uint8_t>(*type) > static_cast<uint8_t>(CType::kStruct)) {
    return Status::Corrupt(fmt::format("thrift field {} has unknown type {}", *id, b & 0x0f));
  }
  return Status::OK();
}

Status CompactReader::ReadListHeader(CType* elem_type, uint32_t* size) {
  if (p_ >= end_) return Truncated(position());
  uint8_t b = *p_++;
  *elem_type = static_cast<CType>(b & 0x0f);
  uint64_t n = b >> 4;
  if (n == 15) SF_RETURN_NOT_OK(ReadVarint(&n));
  // Every element takes at least one byte, so a size beyond the buffer is corrupt; this keeps a
  // hostile size from driving a huge allocation.
  if (n > static_cast<uint64_t>(end_ - p_)) {
    return Status::Corrupt(fmt::format("thrift list of {} elements exceeds its buffer", n));
  }
  *size = static_cast<uint32_t>(n);
  return Status::OK();
}

Status CompactReader::Skip(CType type, int depth) {
  if (depth > kMaxDepth) return Status::Corrupt("thrift values nested too deeply");
  switch (type) {
    case CType::kTrue:
    case CType::kFalse:
      return Status::OK();  // field bools live in the header
    case CType::kByte: {
      int8_t b = 0;
      return ReadByte(&b);
    }
    case CType::kI16:
    case CType::kI32:
    case CType::kI64: {
      uint64_t v;
      return ReadVarint(&v);
    }
    case CType::kDouble: {
      double d;
      return ReadDouble(&d);
    }
    case CType::kBinary: {
      std::string_view s;
      return ReadBinary(&s);
    }
    case CType::kList:
    case CType::kSet: {
      CType et;
      uint32_t n;
      SF_RETURN_NOT_OK(ReadListHeader(&et, &n));
      for (uint32_t i = 0; i < n; ++i) {
        if (et == CType::kTrue || et == CType::kFalse) {
          bool b = false;
          SF_RETURN_NOT_OK(ReadBoolElement(&b));
        } else {
          SF_RETURN_NOT_OK(Skip(et, depth + 1));
        }
      }
      return Status::OK();
    }
    case CType::kMap: {
      uint64_t n;
      SF_RETURN_NOT_OK(ReadVarint(&n));
      if (n == 0) return Status::OK();
      if (n > static_cast<uint64_t>(end_ - p_)) return Truncated(position());
      if (p_ >= end_) return Truncated(position());
      uint8_t kv = *p_++;
      CType kt = static_cast<CType>(kv >> 4), vt = static_cast<CType>(kv & 0x0f);
      for (uint64_t i = 0; i < n; ++i) {
        for (CType t : {kt, vt}) {
          if (t == CType::kTrue || t == CType::kFalse) {
            bool b = false;
            SF_RETURN_NOT_OK(ReadBoolElement(&b));
          } else {
            SF_RETURN_NOT_OK(Skip(t, depth + 1));
          }
        }
      }
      return Status::OK();
    }
    case CType::kStruct: {
      SF_RETURN_NOT_OK(BeginStruct());
      while (true) {
        CType ft;
        int16_t id;
        SF_RETURN_NOT_OK(ReadFieldHeader(&ft, &id));
        if (ft == CType::kStop) break;
        SF_RETURN_NOT_OK(Skip(ft, depth + 1));
      }
      EndStruct();
      return Status::OK();
    }
    default:
      return Status::Corrupt(
          fmt::format("thrift value of unknown type {}", static_cast<int>(type)));
  }
}

void CompactWriter::BeginStruct() {
  last_ids_.push_back(last_id_);
  last_id_ = 0;
}

void CompactWriter::EndStruct() {
  out_->push_back(0);
  last_id_ = last_ids_.empty() ? 0 : last_ids_.back();
  if (!last_ids_.empty()) last_ids_.pop_back();
}

void CompactWriter::FieldHeader(CType type, int16_t id) {
  int delta = id - last_id_;
  if (delta > 0 && delta <= 15) {
    out_->push_back(static_cast<char>((delta << 4) | static_cast<int>(type)));
  } else {
    out_->push_back(static_cast<char>(type));
    Varint(ToZigZag(id));
  }
  last_id_ = id;
}

void CompactWriter::Varint(uint64_t v) {
  while (v >= 0x80) {
    out_->push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out_->push_back(static_cast<char>(v));
}

void CompactWriter::I32(int32_t v) { Varint(ToZigZag(v)); }
void CompactWriter::I64(int64_t v) { Varint(ToZigZag(v)); }
void CompactWriter::Binary(std::string_view v) {
  Varint(v.size());
  out_->append(v);
}

void CompactWriter::FieldI32(int16_t id, int32_t v) {
  FieldHeader(CType::kI32, id);
  I32(v);
}
void CompactWriter::FieldI64(int16_t id, int64_t v) {
  FieldHeader(CType::kI64, id);
  I64(v);
}
void CompactWriter::FieldBool(int16_t id, bool v) {
  FieldHeader(v ? CType::kTrue : CType::kFalse, id);
}
void CompactWriter::FieldBinary(int16_t id, std::string_view v) {
  FieldHeader(CType::kBinary, id);
  Binary(v);
}
void CompactWriter::FieldStruct(int16_t id) {
  FieldHeader(CType::kStruct, id);
  BeginStruct();
}
void CompactWriter::ListHeader(CType elem_type, uint32_t size) {
  if (size < 15) {
    out_->push_back(static_cast<char>((size << 4) | static_cast<uint32_t>(elem_type)));
  } else {
    out_->push_back(static_cast<char>(0xf0 | static_cast<int>(elem_type)));
    Varint(size);
  }
}
void CompactWriter::FieldList(int16_t id, CType elem_type, uint32_t size) {
  FieldHeader(CType::kList, id);
  ListHeader(elem_type, size);
}

}  // namespace structflow::io::parquet
