// Column types: the logical types structflow's tables hold, shared by every source, sink, the
// schema mapper and the prompt templates. Types are immutable and shared (TypePtr); build them
// with the factory functions below. Thread-safety: immutable, share freely.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace structflow::table {

enum class TypeId : uint8_t {
  kNull,
  kBool,
  kInt32,
  kInt64,
  kFloat,
  kDouble,
  kString,     // UTF-8 text
  kBinary,     // raw bytes (images)
  kDate32,     // days since 1970-01-01
  kTimestamp,  // integer count of `unit` since the epoch
  kDecimal,    // unscaled integer value (int64, so precision <= 18) and a scale
  kList,       // one child field, "element"
  kStruct,     // named child fields
  kMap,        // one child field "entries": a struct {key, value}
};

enum class TimeUnit : uint8_t { kMillis, kMicros, kNanos };

class DataType;
using TypePtr = std::shared_ptr<const DataType>;

struct Field {
  std::string name;
  TypePtr type;
  bool nullable = true;
};

class DataType {
 public:
  TypeId id() const { return id_; }
  // Struct: its fields. List: one field "element". Map: one field "entries" of struct{key,value}.
  const std::vector<Field>& fields() const { return fields_; }
  const TypePtr& element() const { return fields_[0].type; }  // list and map only
  TimeUnit unit() const { return unit_; }                     // timestamp only
  bool utc() const { return utc_; }                           // timestamp only
  int precision() const { return precision_; }                // decimal only
  int scale() const { return scale_; }                        // decimal only

  // Index of the struct field named `name`, or -1.
  int FieldIndex(std::string_view name) const;
  bool IsNested() const {
    return id_ == TypeId::kList || id_ == TypeId::kStruct || id_ == TypeId::kMap;
  }
  // "int64", "list<string>", "struct<a: int64, b: list<binary>>", ...
  std::string ToString() const;
  bool Equals(const DataType& other) const;

  // Factories. Scalars are shared singletons.
  static TypePtr Null();
  static TypePtr Bool();
  static TypePtr Int32();
  static TypePtr Int64();
  static TypePtr Float();
  static TypePtr Double();
  static TypePtr String();
  static TypePtr Binary();
  static TypePtr Date32();
  static TypePtr Timestamp(TimeUnit unit, bool utc);
  static TypePtr Decimal(int precision, int scale);
  static TypePtr List(TypePtr element, bool element_nullable = true);
  static TypePtr Struct(std::vector<Field> fields);
  static TypePtr Map(TypePtr key, TypePtr value);

  explicit DataType(TypeId id) : id_(id) {}

 private:
  TypeId id_;
  std::vector<Field> fields_;
  TimeUnit unit_ = TimeUnit::kMicros;
  bool utc_ = true;
  int precision_ = 0;
  int scale_ = 0;
};

std::string_view TypeIdName(TypeId id);

// A table's schema: its top-level fields, in order.
struct Schema {
  std::vector<Field> fields;
  int FieldIndex(std::string_view name) const;
  std::string ToString() const;  // one "name: type" line per field
};

}  // namespace structflow::table
