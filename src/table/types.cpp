#include "table/types.h"

#include <fmt/format.h>

namespace structflow::table {

std::string_view TypeIdName(TypeId id) {
  switch (id) {
    case TypeId::kNull:
      return "null";
    case TypeId::kBool:
      return "bool";
    case TypeId::kInt32:
      return "int32";
    case TypeId::kInt64:
      return "int64";
    case TypeId::kFloat:
      return "float";
    case TypeId::kDouble:
      return "double";
    case TypeId::kString:
      return "string";
    case TypeId::kBinary:
      return "binary";
    case TypeId::kDate32:
      return "date32";
    case TypeId::kTimestamp:
      return "timestamp";
    case TypeId::kDecimal:
      return "decimal";
    case TypeId::kList:
      return "list";
    case TypeId::kStruct:
      return "struct";
    case TypeId::kMap:
      return "map";
  }
  return "unknown";
}

int DataType::FieldIndex(std::string_view name) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string DataType::ToString() const {
  switch (id_) {
    case TypeId::kList:
      return fmt::format("list<{}>", element()->ToString());
    case TypeId::kMap: {
      const auto& kv = element()->fields();
      return fmt::format("map<{}, {}>", kv[0].type->ToString(), kv[1].type->ToString());
    }
    case TypeId::kStruct: {
      std::string out = "struct<";
      for (size_t i = 0; i < fields_.size(); ++i) {
        if (i) out += ", ";
        out += fields_[i].name + ": " + fields_[i].type->ToString();
      }
      return out + ">";
    }
    case TypeId::kTimestamp: {
      static const char* kUnits[] = {"ms", "us", "ns"};
      return fmt::format("timestamp[{}{}]", kUnits[static_cast<int>(unit_)], utc_ ? ", UTC" : "");
    }
    case TypeId::kDecimal:
      return fmt::format("decimal({}, {})", precision_, scale_);
    default:
      return std::string(TypeIdName(id_));
  }
}

bool DataType::Equals(const DataType& o) const {
  if (id_ != o.id_ || fields_.size() != o.fields_.size()) return false;
  if (id_ == TypeId::kTimestamp && (unit_ != o.unit_ || utc_ != o.utc_)) return false;
  if (id_ == TypeId::kDecimal && (precision_ != o.precision_ || scale_ != o.scale_)) return false;
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].name != o.fields_[i].name) return false;
    if (!fields_[i].type->Equals(*o.fields_[i].type)) return false;
  }
  return true;
}

#define STRUCTFLOW_SCALAR_TYPE(Name, Id)                             \
  TypePtr DataType::Name() {                                         \
    static const TypePtr t = std::make_shared<DataType>(TypeId::Id); \
    return t;                                                        \
  }
STRUCTFLOW_SCALAR_TYPE(Null, kNull)
STRUCTFLOW_SCALAR_TYPE(Bool, kBool)
STRUCTFLOW_SCALAR_TYPE(Int32, kInt32)
STRUCTFLOW_SCALAR_TYPE(Int64, kInt64)
STRUCTFLOW_SCALAR_TYPE(Float, kFloat)
STRUCTFLOW_SCALAR_TYPE(Double, kDouble)
STRUCTFLOW_SCALAR_TYPE(String, kString)
STRUCTFLOW_SCALAR_TYPE(Binary, kBinary)
STRUCTFLOW_SCALAR_TYPE(Date32, kDate32)
#undef STRUCTFLOW_SCALAR_TYPE

TypePtr DataType::Timestamp(TimeUnit unit, bool utc) {
  auto t = std::make_shared<DataType>(TypeId::kTimestamp);
  t->unit_ = unit;
  t->utc_ = utc;
  return t;
}

TypePtr DataType::Decimal(int precision, int scale) {
  auto t = std::make_shared<DataType>(TypeId::kDecimal);
  t->precision_ = precision;
  t->scale_ = scale;
  return t;
}

TypePtr DataType::List(TypePtr element, bool element_nullable) {
  auto t = std::make_shared<DataType>(TypeId::kList);
  t->fields_.push_back(Field{"element", std::move(element), element_nullable});
  return t;
}

TypePtr DataType::Struct(std::vector<Field> fields) {
  auto t = std::make_shared<DataType>(TypeId::kStruct);
  t->fields_ = std::move(fields);
  return t;
}

TypePtr DataType::Map(TypePtr key, TypePtr value) {
  auto t = std::make_shared<DataType>(TypeId::kMap);
  auto entries =
      Struct({Field{"key", std::move(key), false}, Field{"value", std::move(value), true}});
  t->fields_.push_back(Field{"entries", std::move(entries), false});
  return t;
}

int Schema::FieldIndex(std::string_view name) const {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

std::string Schema::ToString() const {
  std::string out;
  for (const auto& f : fields) {
    out += f.name + ": " + f.type->ToString() + (f.nullable ? "" : " not null") + "\n";
  }
  return out;
}

}  // namespace structflow::table
