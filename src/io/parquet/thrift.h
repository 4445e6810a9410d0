// Thrift compact protocol, the encoding of Parquet's footer and page headers. We write our own
// because no Parquet or Thrift C++ library is packaged for Debian 12; only the subset Parquet
// needs is here: structs, lists, binaries, varint integers, bools, doubles, and skipping of any
// field we do not know.
//
// CompactReader never reads outside the buffer it was given: every read is bounds-checked and a
// malformed buffer yields a Corrupt status. Nesting is capped so a hostile input cannot exhaust
// the stack. Thread-safety: plain values, one thread each.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace structflow::io::parquet {

enum class CType : uint8_t {
  kStop = 0,
  kTrue = 1,
  kFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

class CompactReader {
 public:
  CompactReader(const uint8_t* data, size_t size) : p_(data), begin_(data), end_(data + size) {}

  size_t position() const { return static_cast<size_t>(p_ - begin_); }

  // Call before reading a struct's fields and after its stop field.
  Status BeginStruct();
  void EndStruct();
  // Reads the next field header. At the stop field sets *type to kStop.
  Status ReadFieldHeader(CType* type, int16_t* id);
  // For a bool field, the value lives in the header's type.
  static bool BoolFromType(CType type) { return type == CType::kTrue; }

  Status ReadVarint(uint64_t* v);
  Status ReadI32(int32_t* v);
  Status ReadI64(int64_t* v);
  Status ReadByte(int8_t* v);
  Status ReadDouble(double* v);
  Status ReadBinary(std::string_view* v);
  Status ReadBinary(std::string* v);
  Status ReadBoolElement(bool* v);  // a bool inside a list
  Status ReadListHeader(CType* elem_type, uint32_t* size);
  // Skips a value of `type`, including nested structs, lists and maps.
  Status Skip(CType type, int depth = 0);
  // Reads an integer of any integer type (byte, i16, i32, i64) as i64.
  Status ReadInt(CType type, int64_t* v);

 private:
  const uint8_t* p_;
  const uint8_t* begin_;
  const uint8_t* end_;
  std::vector<int16_t> last_ids_;
  int16_t last_id_ = 0;
};

// Writes the compact protocol into a caller-owned string.
class CompactWriter {
 public:
  explicit CompactWriter(std::string* out) : out_(out) {}

  void BeginStruct();
  void EndStruct();  // writes the stop field
  void FieldHeader(CType type, int16_t id);
  void FieldI32(int16_t id, int32_t v);
  void FieldI64(int16_t id, int64_t v);
  void FieldBool(int16_t id, bool v);
  void FieldBinary(int16_t id, std::string_view v);
  // Opens a struct-valued field; close it with EndStruct().
  void FieldStruct(int16_t id);
  void FieldList(int16_t id, CType elem_type, uint32_t size);
  void ListHeader(CType elem_type, uint32_t size);
  void Varint(uint64_t v);
  void I32(int32_t v);
  void I64(int64_t v);
  void Binary(std::string_view v);

 private:
  std::string* out_;
  std::vector<int16_t> last_ids_;
  int16_t last_id_ = 0;
};

}  // namespace structflow::io::parquet
