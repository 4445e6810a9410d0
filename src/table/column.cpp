#include "table/column.h"

namespace structflow::table {

Column::Column(TypePtr type) : type_(std::move(type)) {
  switch (type_->id()) {
    case TypeId::kString:
    case TypeId::kBinary:
    case TypeId::kList:
    case TypeId::kMap:
      offsets_.push_back(0);
      break;
    default:
      break;
  }
  for (const auto& f : type_->fields()) children_.emplace_back(f.type);
}

void Column::AppendNull() {
  valid_.push_back(0);
  ++null_count_;
  switch (type_->id()) {
    case TypeId::kNull:
      break;
    case TypeId::kFloat:
    case TypeId::kDouble:
      doubles_.push_back(0);
      break;
    case TypeId::kString:
    case TypeId::kBinary:
      offsets_.push_back(static_cast<int64_t>(data_.size()));
      break;
    case TypeId::kList:
    case TypeId::kMap:
      offsets_.push_back(children_[0].length());
      break;
    case TypeId::kStruct:
      for (auto& c : children_) c.AppendNull();
      break;
    default:
      ints_.push_back(0);
  }
}

void Column::CloseList(bool valid) {
  assert(type_->id() == TypeId::kList || type_->id() == TypeId::kMap);
  valid_.push_back(valid ? 1 : 0);
  if (!valid) ++null_count_;
  offsets_.push_back(children_[0].length());
}

void Column::CloseStruct(bool valid) {
  assert(type_->id() == TypeId::kStruct);
  valid_.push_back(valid ? 1 : 0);
  if (!valid) ++null_count_;
#ifndef NDEBUG
  for (const auto& c : children_) assert(c.length() == length());
#endif
}

void Column::AppendFrom(const Column& src, int64_t i) {
  if (src.IsNull(i)) {
    AppendNull();
    return;
  }
  switch (type_->id()) {
    case TypeId::kNull:
      AppendNull();
      break;
    case TypeId::kFloat:
    case TypeId::kDouble:
      AppendDouble(src.GetDouble(i));
      break;
    case TypeId::kString:
    case TypeId::kBinary:
      AppendBytes(src.GetBytes(i));
      break;
    case TypeId::kList:
    case TypeId::kMap: {
      auto [b, e] = src.ListRange(i);
      for (int64_t k = b; k < e; ++k) children_[0].AppendFrom(src.children_[0], k);
      CloseList();
      break;
    }
    case TypeId::kStruct:
      for (size_t k = 0; k < children_.size(); ++k) children_[k].AppendFrom(src.children_[k], i);
      CloseStruct();
      break;
    default:
      AppendInt(src.GetInt(i));
  }
}

void Column::Reserve(int64_t rows) {
  valid_.reserve(rows);
  switch (type_->id()) {
    case TypeId::kFloat:
    case TypeId::kDouble:
      doubles_.reserve(rows);
      break;
    case TypeId::kString:
    case TypeId::kBinary:
    case TypeId::kList:
    case TypeId::kMap:
      offsets_.reserve(rows + 1);
      break;
    case TypeId::kStruct:
      for (auto& c : children_) c.Reserve(rows);
      break;
    case TypeId::kNull:
      break;
    default:
      ints_.reserve(rows);
  }
}

size_t Column::ByteSize() const {
  size_t n = valid_.capacity() + ints_.capacity() * 8 + doubles_.capacity() * 8 +
             offsets_.capacity() * 8 + data_.capacity();
  for (const auto& c : children_) n += c.ByteSize();
  return n;
}

}  // namespace structflow::table
