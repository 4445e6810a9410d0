#include "io/parquet/schema_map.h"

#include <fmt/format.h>

namespace structflow::io::parquet {
namespace {

using table::DataType;
using table::Field;
using table::TimeUnit;

constexpr int kMaxDepth = 64;

class Builder {
 public:
  explicit Builder(const std::vector<SchemaElement>& s) : s_(s) {}

  Status Root(std::vector<Node>* out) {
    if (s_.empty()) return Status::Corrupt("the footer's schema is empty");
    const SchemaElement& root = s_[0];
    if (root.type) return Status::Corrupt("the footer's schema root is not a group");
    pos_ = 1;
    for (int i = 0; i < root.num_children; ++i) {
      Node n;
      SF_RETURN_NOT_OK(Parse(0, 0, "", false, &n, 0));
      out->push_back(std::move(n));
    }
    if (pos_ != s_.size()) {
      return Status::Corrupt(fmt::format(
          "the footer's schema has {} elements but its root covers {}", s_.size(), pos_));
    }
    return Status::OK();
  }

 private:
  Status Parse(int parent_def, int parent_rep, const std::string& prefix, bool as_required,
               Node* out, int depth) {
    if (depth > kMaxDepth) return Status::Corrupt("the footer's schema is nested too deeply");
    if (pos_ >= s_.size()) return Status::Corrupt("the footer's schema ends early");
    const SchemaElement& se = s_[pos_];
    Repetition rep = se.repetition.value_or(Repetition::kRequired);
    if (!as_required && rep == Repetition::kRepeated) {
      // A repeated field outside a LIST/MAP annotation is a list of required elements.
      Node list;
      list.kind = Node::Kind::kList;
      list.name = se.name;
      list.nullable = false;
      list.def = parent_def;
      list.list_rep = parent_rep + 1;
      list.elem_def = parent_def + 1;
      Node elem;
      SF_RETURN_NOT_OK(Parse(list.elem_def, list.list_rep, prefix, true, &elem, depth + 1));
      list.type = DataType::List(elem.type, false);
      list.first_leaf = elem.first_leaf;
      list.num_leaves = elem.num_leaves;
      list.children.push_back(std::move(elem));
      *out = std::move(list);
      return Status::OK();
    }
    out->name = se.name;
    out->nullable = !as_required && rep == Repetition::kOptional;
    out->def = parent_def + (out->nullable ? 1 : 0);
    std::string path = prefix.empty() ? se.name : prefix + "." + se.name;
    ++pos_;
    out->first_leaf = leaves_;
    if (se.type) {
      out->kind = Node::Kind::kLeaf;
      out->max_def = out->def;
      out->max_rep = parent_rep;
      out->path = path;
      SF_RETURN_NOT_OK(MakeLeaf(se, out));
      ++leaves_;
      out->num_leaves = 1;
      return Status::OK();
    }
    int n = se.num_children;
    if (n <= 0 || static_cast<size_t>(n) > s_.size() - pos_) {
      return Status::Corrupt(
          fmt::format("schema group '{}' has an invalid child count {}", path, n));
    }
    bool is_list = se.converted_type == converted::kList || se.logical.kind == LogicalType::kList;
    bool is_map = se.converted_type == converted::kMap ||
                  se.converted_type == converted::kMapKeyValue ||
                  se.logical.kind == LogicalType::kMap;
    const SchemaElement& child = s_[pos_];
    bool child_repeated = child.repetition == Repetition::kRepeated;
    if (is_list && n == 1 && child_repeated) {
      out->kind = Node::Kind::kList;
      out->list_rep = parent_rep + 1;
      out->elem_def = out->def + 1;
      // The backward-compatibility rules of the LogicalTypes spec decide whether the repeated
      // field is the element itself (legacy 2-level lists) or wraps it (3-level lists).
      bool repeated_is_element = child.type.has_value() || child.num_children > 1 ||
                                 child.name == "array" || child.name == se.name + "_tuple";
      Node elem;
      if (repeated_is_element) {
        SF_RETURN_NOT_OK(Parse(out->elem_def, out->list_rep, path, true, &elem, depth + 1));
      } else {
        if (child.num_children != 1) {
          return Status::Corrupt(fmt::format("list '{}' has an invalid repeated group", path));
        }
        ++pos_;
        SF_RETURN_NOT_OK(
            Parse(out->elem_def, out->list_rep, path + "." + child.name, false, &elem, depth + 1));
      }
      out->type = DataType::List(elem.type, elem.nullable);
      out->children.push_back(std::move(elem));
    } else if (is_map && n == 1 && child_repeated && !child.type && child.num_children >= 1 &&
               child.num_children <= 2) {
      out->kind = Node::Kind::kMap;
      out->list_rep = parent_rep + 1;
      out->elem_def = out->def + 1;
      ++pos_;
      std::string kv_path = path + "." + child.name;
      Node entries;
      entries.kind = Node::Kind::kStruct;
      entries.name = "entries";
      entries.nullable = false;
      entries.def = out->elem_def;
      entries.first_leaf = leaves_;
      Node key, value;
      SF_RETURN_NOT_OK(Parse(out->elem_def, out->list_rep, kv_path, false, &key, depth + 1));
      if (child.num_children == 2) {
        SF_RETURN_NOT_OK(Parse(out->elem_def, out->list_rep, kv_path, false, &value, depth + 1));
      } else {
        return Status::Unimplemented(fmt::format("map '{}' has keys but no values", path));
      }
      entries.num_leaves = leaves_ - entries.first_leaf;
      out->type = DataType::Map(key.type, value.type);
      entries.type = out->type->element();
      key.name = "key";
      value.name = "value";
      entries.children.push_back(std::move(key));
      entries.children.push_back(std::move(value));
      out->children.push_back(std::move(entries));
    } else {
      out->kind = Node::Kind::kStruct;
      std::vector<Field> fields;
      for (int i = 0; i < n; ++i) {
        Node c;
        SF_RETURN_NOT_OK(Parse(out->def, parent_rep, path, false, &c, depth + 1));
        fields.push_back(Field{c.name, c.type, c.nullable});
        out->children.push_back(std::move(c));
      }
      out->type = DataType::Struct(std::move(fields));
    }
    out->num_leaves = leaves_ - out->first_leaf;
    return Status::OK();
  }

  Status MakeLeaf(const SchemaElement& se, Node* n) {
    PhysicalType pt = *se.type;
    n->physical = pt;
    n->type_length = se.type_length;
    const LogicalType& lt = se.logical;
    int ct = se.converted_type.value_or(-1);
    if (pt == PhysicalType::kFixedLenByteArray &&
        (se.type_length <= 0 || se.type_length > (1 << 24))) {
      return Status::Corrupt(
          fmt::format("column '{}' has invalid fixed length {}", n->path, se.type_length));
    }
    if (static_cast<int>(pt) < 0 || static_cast<int>(pt) > 7) {
      return Status::Corrupt(
          fmt::format("column '{}' has unknown physical type {}", n->path, static_cast<int>(pt)));
    }
    if (lt.kind == LogicalType::kUnknown) {
      n->type = DataType::Null();
      n->conv = Conv::kNull;
      return Status::OK();
    }
    if (lt.kind == LogicalType::kDecimal || ct == converted::kDecimal) {
      int precision = lt.kind == LogicalType::kDecimal ? lt.precision : se.precision;
      int scale = lt.kind == LogicalType::kDecimal ? lt.scale : se.scale;
      if (scale < 0 || scale > 76) {
        return Status::Corrupt(fmt::format("column '{}' has decimal scale {}", n->path, scale));
      }
      n->scale = scale;
      if (pt == PhysicalType::kBoolean || pt == PhysicalType::kFloat ||
          pt == PhysicalType::kDouble || pt == PhysicalType::kInt96) {
        return Status::Corrupt(
            fmt::format("column '{}' is a decimal on an unsupported physical type", n->path));
      }
      if (precision <= 18 && precision > 0) {
        n->type = DataType::Decimal(precision, scale);
        n->conv = (pt == PhysicalType::kInt32 || pt == PhysicalType::kInt64) ? Conv::kInt
                                                                             : Conv::kDecimalBytes;
      } else {
        // Table decimals hold an int64; wider decimals keep their exact value as text.
        n->type = DataType::String();
        n->conv = Conv::kDecimalString;
      }
      return Status::OK();
    }
    switch (pt) {
      case PhysicalType::kBoolean:
        n->type = DataType::Bool();
        n->conv = Conv::kBool;
        break;
      case PhysicalType::kInt32: {
        n->conv = Conv::kInt;
        bool is_unsigned32 =
            (lt.kind == LogicalType::kInteger && !lt.is_signed && lt.bit_width == 32) ||
            ct == converted::kUint32;
        if (lt.kind == LogicalType::kDate || ct == converted::kDate) {
          n->type = DataType::Date32();
        } else if (is_unsigned32) {
          n->type = DataType::Int64();
          n->conv = Conv::kUInt32;
        } else {
          n->type = DataType::Int32();
        }
        break;
      }
      case PhysicalType::kInt64:
        n->conv = Conv::kInt;
        if (lt.kind == LogicalType::kTimestamp) {
          TimeUnit u = lt.unit == 1   ? TimeUnit::kMillis
                       : lt.unit == 3 ? TimeUnit::kNanos
                                      : TimeUnit::kMicros;
          n->type = DataType::Timestamp(u, lt.adjusted_to_utc);
        } else if (ct == converted::kTimestampMillis) {
          n->type = DataType::Timestamp(TimeUnit::kMillis, true);
        } else if (ct == converted::kTimestampMicros) {
          n->type = DataType::Timestamp(TimeUnit::kMicros, true);
        } else {
          n->type = DataType::Int64();
        }
        break;
      case PhysicalType::kInt96:
        n->type = DataType::Timestamp(TimeUnit::kMicros, false);  // as DuckDB: see Conv::kInt96
        n->conv = Conv::kInt96;
        break;
      case PhysicalType::kFloat:
        n->type = DataType::Float();
        n->conv = Conv::kFloat;
        break;
      case PhysicalType::kDouble:
        n->type = DataType::Double();
        n->conv = Conv::kFloat;
        break;
      case PhysicalType::kByteArray: {
        bool text = lt.kind == LogicalType::kString || lt.kind == LogicalType::kEnum ||
                    lt.kind == LogicalType::kJson || ct == converted::kUtf8 ||
                    ct == converted::kEnum || ct == converted::kJson;
        n->type = text ? DataType::String() : DataType::Binary();
        n->conv = Conv::kBytes;
        break;
      }
      case PhysicalType::kFixedLenByteArray:
        if (lt.kind == LogicalType::kFloat16 && se.type_length == 2) {
          n->type = DataType::Float();
          n->conv = Conv::kFloat16;
        } else {
          n->type = DataType::Binary();
          n->conv = Conv::kBytes;
        }
        break;
    }
    return Status::OK();
  }

  const std::vector<SchemaElement>& s_;
  size_t pos_ = 0;
  int leaves_ = 0;
};

void AddElements(const std::string& name, const table::TypePtr& type, bool nullable,
                 std::vector<SchemaElement>* out, Status* st) {
  SchemaElement se;
  se.name = name;
  se.repetition = nullable ? Repetition::kOptional : Repetition::kRequired;
  switch (type->id()) {
    case table::TypeId::kNull:
      se.type = PhysicalType::kInt32;
      se.repetition = Repetition::kOptional;
      se.logical.kind = LogicalType::kUnknown;
      break;
    case table::TypeId::kBool:
      se.type = PhysicalType::kBoolean;
      break;
    case table::TypeId::kInt32:
      se.type = PhysicalType::kInt32;
      break;
    case table::TypeId::kInt64:
      se.type = PhysicalType::kInt64;
      break;
    case table::TypeId::kFloat:
      se.type = PhysicalType::kFloat;
      break;
    case table::TypeId::kDouble:
      se.type = PhysicalType::kDouble;
      break;
    case table::TypeId::kString:
      se.type = PhysicalType::kByteArray;
      se.converted_type = converted::kUtf8;
      se.logical.kind = LogicalType::kString;
      break;
    case table::TypeId::kBinary:
      se.type = PhysicalType::kByteArray;
      break;
    case table::TypeId::kDate32:
      se.type = PhysicalType::kInt32;
      se.converted_type = converted::kDate;
      se.logical.kind = LogicalType::kDate;
      break;
    case table::TypeId::kTimestamp:
      se.type = PhysicalType::kInt64;
      se.logical.kind = LogicalType::kTimestamp;
      se.logical.adjusted_to_utc = type->utc();
      se.logical.unit = type->unit() == TimeUnit::kMillis   ? 1
                        : type->unit() == TimeUnit::kMicros ? 2
                                                            : 3;
      if (type->utc() && type->unit() == TimeUnit::kMillis)
        se.converted_type = converted::kTimestampMillis;
      if (type->utc() && type->unit() == TimeUnit::kMicros)
        se.converted_type = converted::kTimestampMicros;
      break;
    case table::TypeId::kDecimal:
      se.type = PhysicalType::kInt64;
      se.converted_type = converted::kDecimal;
      se.precision = type->precision();
      se.scale = type->scale();
      se.logical.kind = LogicalType::kDecimal;
      se.logical.precision = type->precision();
      se.logical.scale = type->scale();
      if (type->precision() > 18 || type->precision() <= 0) {
        *st = Status::InvalidArgument(
            fmt::format("column '{}': decimal precision {} does not fit int64; use precision <= 18",
                        name, type->precision()));
      }
      break;
    case table::TypeId::kList: {
      se.converted_type = converted::kList;
      se.logical.kind = LogicalType::kList;
      se.num_children = 1;
      out->push_back(se);
      SchemaElement rg;
      rg.name = "list";
      rg.repetition = Repetition::kRepeated;
      rg.num_children = 1;
      out->push_back(rg);
      AddElements("element", type->element(), type->fields()[0].nullable, out, st);
      return;
    }
    case table::TypeId::kMap: {
      se.converted_type = converted::kMap;
      se.logical.kind = LogicalType::kMap;
      se.num_children = 1;
      out->push_back(se);
      SchemaElement kv;
      kv.name = "key_value";
      kv.repetition = Repetition::kRepeated;
      kv.num_children = 2;
      out->push_back(kv);
      const auto& f = type->element()->fields();
      AddElements("key", f[0].type, false, out, st);
      AddElements("value", f[1].type, true, out, st);
      return;
    }
    case table::TypeId::kStruct: {
      se.num_children = static_cast<int32_t>(type->fields().size());
      if (se.num_children == 0) {
        *st = Status::InvalidArgument(
            fmt::format("column '{}': Parquet cannot store a struct with no fields", name));
      }
      out->push_back(se);
      for (const auto& f : type->fields()) AddElements(f.name, f.type, f.nullable, out, st);
      return;
    }
  }
  out->push_back(se);
}

}  // namespace

Status BuildNodes(const std::vector<SchemaElement>& schema, std::vector<Node>* out) {
  Builder b(schema);
  return b.Root(out);
}

table::Schema TableSchemaOf(const std::vector<Node>& nodes) {
  table::Schema s;
  for (const auto& n : nodes) s.fields.push_back(Field{n.name, n.type, n.nullable});
  return s;
}

Status SchemaElementsFor(const table::Schema& schema, std::vector<SchemaElement>* out) {
  SchemaElement root;
  root.name = "schema";
  root.num_children = static_cast<int32_t>(schema.fields.size());
  out->push_back(root);
  Status st;
  for (const auto& f : schema.fields) AddElements(f.name, f.type, f.nullable, out, &st);
  return st;
}

}  // namespace structflow::io::parquet
