// Column: one typed column of a record batch, with validity. The layout is Arrow-like but kept
// simple: fixed-width values in one vector, strings and binaries as offsets into one buffer,
// lists and maps as offsets into a child column, structs as one child column per field.
// Bool, int32, int64, date32, timestamp and decimal values all live in the int64 vector; float
// and double in the double vector.
//
// Building: call the Append* that matches the type. For a list, append the elements to child(0)
// and then CloseList(); for a struct, append one value to every child and then CloseStruct().
// AppendNull() keeps children aligned (a null struct row appends a null to each child).
// Thread-safety: a column is a plain value. Build it on one thread; read it from many.
#pragma once

#include <cassert>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "table/types.h"

namespace structflow::table {

class Column {
 public:
  explicit Column(TypePtr type);

  const TypePtr& type() const { return type_; }
  TypeId type_id() const { return type_->id(); }
  int64_t length() const { return static_cast<int64_t>(valid_.size()); }
  int64_t null_count() const { return null_count_; }
  bool IsNull(int64_t i) const { return valid_[i] == 0; }
  bool IsValid(int64_t i) const { return valid_[i] != 0; }

  bool GetBool(int64_t i) const { return ints_[i] != 0; }
  // int32, int64, date32, timestamp and decimal (unscaled) values.
  int64_t GetInt(int64_t i) const { return ints_[i]; }
  // float and double values.
  double GetDouble(int64_t i) const { return doubles_[i]; }
  // string and binary values.
  std::string_view GetBytes(int64_t i) const {
    return std::string_view(data_.data() + offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  // list and map rows: the half-open range [first, second) of rows in child(0).
  std::pair<int64_t, int64_t> ListRange(int64_t i) const { return {offsets_[i], offsets_[i + 1]}; }

  int num_children() const { return static_cast<int>(children_.size()); }
  const Column& child(int k) const { return children_[k]; }
  Column& child(int k) { return children_[k]; }

  void AppendNull();
  void AppendBool(bool v) {
    PushValid();
    ints_.push_back(v ? 1 : 0);
  }
  void AppendInt(int64_t v) {
    PushValid();
    ints_.push_back(v);
  }
  void AppendDouble(double v) {
    PushValid();
    doubles_.push_back(v);
  }
  void AppendBytes(std::string_view v) {
    PushValid();
    data_.append(v);
    offsets_.push_back(static_cast<int64_t>(data_.size()));
  }
  // Closes one list (or map) row over the elements appended to child(0) since the last row.
  void CloseList(bool valid = true);
  // Closes one struct row over the values appended to each child.
  void CloseStruct(bool valid = true);
  // Appends row `i` of `src`, which has the same type, deep-copying nested values.
  void AppendFrom(const Column& src, int64_t i);

  void Reserve(int64_t rows);
  // Approximate heap bytes held, for memory accounting and row-group sizing.
  size_t ByteSize() const;

 private:
  void PushValid() { valid_.push_back(1); }

  TypePtr type_;
  std::vector<uint8_t> valid_;
  int64_t null_count_ = 0;
  std::vector<int64_t> ints_;
  std::vector<double> doubles_;
  std::vector<int64_t> offsets_;  // string, binary, list, map: length()+1 entries, first is 0
  std::string data_;
  std::vector<Column> children_;
};

}  // namespace structflow::table
