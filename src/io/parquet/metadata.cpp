#include "io/parquet/metadata.h"

#include <fmt/format.h>

#include "io/parquet/thrift.h"

namespace structflow::io::parquet {
namespace {

Status WrongType(int16_t id, CType t) {
  return Status::Corrupt(
      fmt::format("thrift field {} has unexpected type {}", id, static_cast<int>(t)));
}

template <typename F>
Status ReadStruct(CompactReader& r, F&& on_field) {
  SF_RETURN_NOT_OK(r.BeginStruct());
  while (true) {
    CType t;
    int16_t id = 0;
    SF_RETURN_NOT_OK(r.ReadFieldHeader(&t, &id));
    if (t == CType::kStop) break;
    SF_RETURN_NOT_OK(on_field(t, id));
  }
  r.EndStruct();
  return Status::OK();
}

Status GetI64(CompactReader& r, CType t, int16_t id, int64_t* v) {
  if (t != CType::kI64 && t != CType::kI32 && t != CType::kI16 && t != CType::kByte) {
    return WrongType(id, t);
  }
  return r.ReadInt(t, v);
}

Status GetI32(CompactReader& r, CType t, int16_t id, int32_t* v) {
  int64_t x;
  SF_RETURN_NOT_OK(GetI64(r, t, id, &x));
  if (x < INT32_MIN || x > INT32_MAX) return Status::Corrupt("thrift i32 out of range");
  *v = static_cast<int32_t>(x);
  return Status::OK();
}

template <typename E>
Status GetEnum(CompactReader& r, CType t, int16_t id, E* v) {
  int32_t x;
  SF_RETURN_NOT_OK(GetI32(r, t, id, &x));
  *v = static_cast<E>(x);
  return Status::OK();
}

Status GetBool(CType t, int16_t id, bool* v) {
  if (t != CType::kTrue && t != CType::kFalse) return WrongType(id, t);
  *v = CompactReader::BoolFromType(t);
  return Status::OK();
}

Status GetBinary(CompactReader& r, CType t, int16_t id, std::string* v) {
  if (t != CType::kBinary) return WrongType(id, t);
  return r.ReadBinary(v);
}

template <typename F>
Status GetStruct(CompactReader& r, CType t, int16_t id, F&& on_field) {
  if (t != CType::kStruct) return WrongType(id, t);
  return ReadStruct(r, on_field);
}

// Reads a list whose elements are read by `on_elem(elem_type)`.
template <typename F>
Status GetList(CompactReader& r, CType t, int16_t id, F&& on_elem) {
  if (t != CType::kList && t != CType::kSet) return WrongType(id, t);
  CType et;
  uint32_t n;
  SF_RETURN_NOT_OK(r.ReadListHeader(&et, &n));
  for (uint32_t i = 0; i < n; ++i) SF_RETURN_NOT_OK(on_elem(et));
  return Status::OK();
}

Status ParseTimeUnit(CompactReader& r, CType t, int16_t id, int* unit) {
  return GetStruct(r, t, id, [&](CType ft, int16_t fid) -> Status {
    if (fid >= 1 && fid <= 3) *unit = fid;
    return r.Skip(ft);
  });
}

Status ParseLogicalType(CompactReader& r, CType t, int16_t id, LogicalType* lt) {
  return GetStruct(r, t, id, [&](CType ft, int16_t kind) -> Status {
    lt->kind = kind;
    switch (kind) {
      case LogicalType::kDecimal:
        return GetStruct(r, ft, kind, [&](CType t2, int16_t id2) -> Status {
          if (id2 == 1) return GetI32(r, t2, id2, &lt->scale);
          if (id2 == 2) return GetI32(r, t2, id2, &lt->precision);
          return r.Skip(t2);
        });
      case LogicalType::kTime:
      case LogicalType::kTimestamp:
        return GetStruct(r, ft, kind, [&](CType t2, int16_t id2) -> Status {
          if (id2 == 1) return GetBool(t2, id2, &lt->adjusted_to_utc);
          if (id2 == 2) return ParseTimeUnit(r, t2, id2, &lt->unit);
          return r.Skip(t2);
        });
      case LogicalType::kInteger:
        return GetStruct(r, ft, kind, [&](CType t2, int16_t id2) -> Status {
          if (id2 == 1) return GetI32(r, t2, id2, &lt->bit_width);
          if (id2 == 2) return GetBool(t2, id2, &lt->is_signed);
          return r.Skip(t2);
        });
      default:
        return r.Skip(ft);
    }
  });
}

Status ParseSchemaElement(CompactReader& r, CType t, SchemaElement* se) {
  return GetStruct(r, t, 2, [&](CType ft, int16_t id) -> Status {
    switch (id) {
      case 1: {
        PhysicalType p = PhysicalType::kBoolean;
        SF_RETURN_NOT_OK(GetEnum(r, ft, id, &p));
        se->type = p;
        return Status::OK();
      }
      case 2:
        return GetI32(r, ft, id, &se->type_length);
      case 3: {
        Repetition rep = Repetition::kRequired;
        SF_RETURN_NOT_OK(GetEnum(r, ft, id, &rep));
        se->repetition = rep;
        return Status::OK();
      }
      case 4:
        return GetBinary(r, ft, id, &se->name);
      case 5:
        return GetI32(r, ft, id, &se->num_children);
      case 6: {
        int32_t c;
        SF_RETURN_NOT_OK(GetI32(r, ft, id, &c));
        se->converted_type = c;
        return Status::OK();
      }
      case 7:
        return GetI32(r, ft, id, &se->scale);
      case 8:
        return GetI32(r, ft, id, &se->precision);
      case 10:
        return ParseLogicalType(r, ft, id, &se->logical);
      default:
        return r.Skip(ft);
    }
  });
}

Status ParseStatistics(CompactReader& r, CType t, int16_t id, Statistics* s) {
  return GetStruct(r, t, id, [&](CType ft, int16_t fid) -> Status {
    std::string v;
    switch (fid) {
      case 3: {
        int64_t n;
        SF_RETURN_NOT_OK(GetI64(r, ft, fid, &n));
        s->null_count = n;
        return Status::OK();
      }
      case 5:
        SF_RETURN_NOT_OK(GetBinary(r, ft, fid, &v));
        s->max_value = std::move(v);
        return Status::OK();
      case 6:
        SF_RETURN_NOT_OK(GetBinary(r, ft, fid, &v));
        s->min_value = std::move(v);
        return Status::OK();
      default:
        return r.Skip(ft);
    }
  });
}

Status ParseKeyValues(CompactReader& r, CType t, int16_t id, std::vector<KeyValue>* out) {
  return GetList(r, t, id, [&](CType et) -> Status {
    KeyValue kv;
    kv.has_value = false;
    SF_RETURN_NOT_OK(GetStruct(r, et, id, [&](CType t2, int16_t id2) -> Status {
      if (id2 == 1) return GetBinary(r, t2, id2, &kv.key);
      if (id2 == 2) {
        kv.has_value = true;
        return GetBinary(r, t2, id2, &kv.value);
      }
      return r.Skip(t2);
    }));
    out->push_back(std::move(kv));
    return Status::OK();
  });
}

Status ParseColumnMetaData(CompactReader& r, CType t, int16_t id, ColumnMetaData* m) {
  return GetStruct(r, t, id, [&](CType ft, int16_t fid) -> Status {
    switch (fid) {
      case 1:
        return GetEnum(r, ft, fid, &m->type);
      case 2:
        return GetList(r, ft, fid, [&](CType et) -> Status {
          int32_t e;
          SF_RETURN_NOT_OK(GetI32(r, et, fid, &e));
          m->encodings.push_back(e);
          return Status::OK();
        });
      case 3:
        return GetList(r, ft, fid, [&](CType et) -> Status {
          std::string s;
          SF_RETURN_NOT_OK(GetBinary(r, et, fid, &s));
          m->path_in_schema.push_back(std::move(s));
          return Status::OK();
        });
      case 4:
        return GetEnum(r, ft, fid, &m->codec);
      case 5:
        return GetI64(r, ft, fid, &m->num_values);
      case 6:
        return GetI64(r, ft, fid, &m->total_uncompressed_size);
      case 7:
        return GetI64(r, ft, fid, &m->total_compressed_size);
      case 8:
        return ParseKeyValues(r, ft, fid, &m->key_value_metadata);
      case 9:
        return GetI64(r, ft, fid, &m->data_page_offset);
      case 11: {
        int64_t v;
        SF_RETURN_NOT_OK(GetI64(r, ft, fid, &v));
        m->dictionary_page_offset = v;
        return Status::OK();
      }
      case 12: {
        Statistics s;
        SF_RETURN_NOT_OK(ParseStatistics(r, ft, fid, &s));
        m->statistics = std::move(s);
        return Status::OK();
      }
      default:
        return r.Skip(ft);
    }
  });
}

Status ParseRowGroup(CompactReader& r, CType t, RowGroup* rg) {
  return GetStruct(r, t, 4, [&](CType ft, int16_t id) -> Status {
    switch (id) {
      case 1:
        return GetList(r, ft, id, [&](CType et) -> Status {
          ColumnChunk cc;
          SF_RETURN_NOT_OK(GetStruct(r, et, id, [&](CType t2, int16_t id2) -> Status {
            if (id2 == 1) return GetBinary(r, t2, id2, &cc.file_path);
            if (id2 == 2) return GetI64(r, t2, id2, &cc.file_offset);
            if (id2 == 3) {
              ColumnMetaData m;
              SF_RETURN_NOT_OK(ParseColumnMetaData(r, t2, id2, &m));
              cc.meta_data = std::move(m);
              return Status::OK();
            }
            return r.Skip(t2);
          }));
          rg->columns.push_back(std::move(cc));
          return Status::OK();
        });
      case 2:
        return GetI64(r, ft, id, &rg->total_byte_size);
      case 3:
        return GetI64(r, ft, id, &rg->num_rows);
      default:
        return r.Skip(ft);
    }
  });
}

}  // namespace

Status ParseFileMetaData(const uint8_t* data, size_t size, FileMetaData* md) {
  CompactReader r(data, size);
  return ReadStruct(r, [&](CType t, int16_t id) -> Status {
    switch (id) {
      case 1:
        return GetI32(r, t, id, &md->version);
      case 2:
        return GetList(r, t, id, [&](CType et) -> Status {
          SchemaElement se;
          SF_RETURN_NOT_OK(ParseSchemaElement(r, et, &se));
          md->schema.push_back(std::move(se));
          return Status::OK();
        });
      case 3:
        return GetI64(r, t, id, &md->num_rows);
      case 4:
        return GetList(r, t, id, [&](CType et) -> Status {
          RowGroup rg;
          SF_RETURN_NOT_OK(ParseRowGroup(r, et, &rg));
          md->row_groups.push_back(std::move(rg));
          return Status::OK();
        });
      case 5:
        return ParseKeyValues(r, t, id, &md->key_value_metadata);
      case 6:
        return GetBinary(r, t, id, &md->created_by);
      default:
        return r.Skip(t);
    }
  });
}

Status ParsePageHeader(const uint8_t* data, size_t size, PageHeader* ph, size_t* header_size) {
  CompactReader r(data, size);
  SF_RETURN_NOT_OK(ReadStruct(r, [&](CType t, int16_t id) -> Status {
    switch (id) {
      case 1:
        return GetEnum(r, t, id, &ph->type);
      case 2:
        return GetI32(r, t, id, &ph->uncompressed_page_size);
      case 3:
        return GetI32(r, t, id, &ph->compressed_page_size);
      case 5: {
        DataPageHeader h;
        SF_RETURN_NOT_OK(GetStruct(r, t, id, [&](CType t2, int16_t id2) -> Status {
          switch (id2) {
            case 1:
              return GetI32(r, t2, id2, &h.num_values);
            case 2:
              return GetEnum(r, t2, id2, &h.encoding);
            case 3:
              return GetEnum(r, t2, id2, &h.definition_level_encoding);
            case 4:
              return GetEnum(r, t2, id2, &h.repetition_level_encoding);
            default:
              return r.Skip(t2);
          }
        }));
        ph->data_page = h;
        return Status::OK();
      }
      case 7: {
        DictionaryPageHeader h;
        SF_RETURN_NOT_OK(GetStruct(r, t, id, [&](CType t2, int16_t id2) -> Status {
          if (id2 == 1) return GetI32(r, t2, id2, &h.num_values);
          if (id2 == 2) return GetEnum(r, t2, id2, &h.encoding);
          return r.Skip(t2);
        }));
        ph->dictionary_page = h;
        return Status::OK();
      }
      case 8: {
        DataPageHeaderV2 h;
        SF_RETURN_NOT_OK(GetStruct(r, t, id, [&](CType t2, int16_t id2) -> Status {
          switch (id2) {
            case 1:
              return GetI32(r, t2, id2, &h.num_values);
            case 2:
              return GetI32(r, t2, id2, &h.num_nulls);
            case 3:
              return GetI32(r, t2, id2, &h.num_rows);
            case 4:
              return GetEnum(r, t2, id2, &h.encoding);
            case 5:
              return GetI32(r, t2, id2, &h.definition_levels_byte_length);
            case 6:
              return GetI32(r, t2, id2, &h.repetition_levels_byte_length);
            case 7:
              return GetBool(t2, id2, &h.is_compressed);
            default:
              return r.Skip(t2);
          }
        }));
        ph->data_page_v2 = h;
        return Status::OK();
      }
      default:
        return r.Skip(t);
    }
  }));
  *header_size = r.position();
  return Status::OK();
}

namespace {

void WriteStatistics(CompactWriter& w, int16_t id, const Statistics& s) {
  w.FieldStruct(id);
  if (s.null_count) w.FieldI64(3, *s.null_count);
  if (s.max_value) w.FieldBinary(5, *s.max_value);
  if (s.min_value) w.FieldBinary(6, *s.min_value);
  w.EndStruct();
}

void WriteLogicalType(CompactWriter& w, const LogicalType& lt) {
  w.FieldStruct(10);
  w.FieldStruct(static_cast<int16_t>(lt.kind));
  switch (lt.kind) {
    case LogicalType::kDecimal:
      w.FieldI32(1, lt.scale);
      w.FieldI32(2, lt.precision);
      break;
    case LogicalType::kTime:
    case LogicalType::kTimestamp:
      w.FieldBool(1, lt.adjusted_to_utc);
      w.FieldStruct(2);
      w.FieldStruct(static_cast<int16_t>(lt.unit));
      w.EndStruct();
      w.EndStruct();
      break;
    default:
      break;
  }
  w.EndStruct();
  w.EndStruct();
}

}  // namespace

static void WriteKeyValues(CompactWriter& w, int16_t id, const std::vector<KeyValue>& kvs) {
  w.FieldList(id, CType::kStruct, static_cast<uint32_t>(kvs.size()));
  for (const auto& kv : kvs) {
    w.BeginStruct();
    w.FieldBinary(1, kv.key);
    if (kv.has_value) w.FieldBinary(2, kv.value);
    w.EndStruct();
  }
}

void SerializeFileMetaData(const FileMetaData& md, std::string* out) {
  CompactWriter w(out);
  w.BeginStruct();
  w.FieldI32(1, md.version);
  w.FieldList(2, CType::kStruct, static_cast<uint32_t>(md.schema.size()));
  for (const auto& se : md.schema) {
    w.BeginStruct();
    if (se.type) w.FieldI32(1, static_cast<int32_t>(*se.type));
    if (se.type == PhysicalType::kFixedLenByteArray) w.FieldI32(2, se.type_length);
    if (se.repetition) w.FieldI32(3, static_cast<int32_t>(*se.repetition));
    w.FieldBinary(4, se.name);
    if (!se.type) w.FieldI32(5, se.num_children);
    if (se.converted_type) w.FieldI32(6, *se.converted_type);
    if (se.converted_type == converted::kDecimal) {
      w.FieldI32(7, se.scale);
      w.FieldI32(8, se.precision);
    }
    // Integer annotations are never written: table ints map to plain INT32/INT64.
    if (se.logical.kind != LogicalType::kNone && se.logical.kind != LogicalType::kInteger) {
      WriteLogicalType(w, se.logical);
    }
    w.EndStruct();
  }
  w.FieldI64(3, md.num_rows);
  w.FieldList(4, CType::kStruct, static_cast<uint32_t>(md.row_groups.size()));
  for (const auto& rg : md.row_groups) {
    w.BeginStruct();
    w.FieldList(1, CType::kStruct, static_cast<uint32_t>(rg.columns.size()));
    for (const auto& cc : rg.columns) {
      w.BeginStruct();
      w.FieldI64(2, cc.file_offset);
      if (cc.meta_data) {
        const auto& m = *cc.meta_data;
        w.FieldStruct(3);
        w.FieldI32(1, static_cast<int32_t>(m.type));
        w.FieldList(2, CType::kI32, static_cast<uint32_t>(m.encodings.size()));
        for (int32_t e : m.encodings) w.I32(e);
        w.FieldList(3, CType::kBinary, static_cast<uint32_t>(m.path_in_schema.size()));
        for (const auto& p : m.path_in_schema) w.Binary(p);
        w.FieldI32(4, static_cast<int32_t>(m.codec));
        w.FieldI64(5, m.num_values);
        w.FieldI64(6, m.total_uncompressed_size);
        w.FieldI64(7, m.total_compressed_size);
        if (!m.key_value_metadata.empty()) WriteKeyValues(w, 8, m.key_value_metadata);
        w.FieldI64(9, m.data_page_offset);
        if (m.dictionary_page_offset) w.FieldI64(11, *m.dictionary_page_offset);
        if (m.statistics) WriteStatistics(w, 12, *m.statistics);
        w.EndStruct();
      }
      w.EndStruct();
    }
    w.FieldI64(2, rg.total_byte_size);
    w.FieldI64(3, rg.num_rows);
    w.EndStruct();
  }
  if (!md.key_value_metadata.empty()) WriteKeyValues(w, 5, md.key_value_metadata);
  if (!md.created_by.empty()) w.FieldBinary(6, md.created_by);
  w.EndStruct();
}

void SerializePageHeader(const PageHeader& ph, std::string* out) {
  CompactWriter w(out);
  w.BeginStruct();
  w.FieldI32(1, static_cast<int32_t>(ph.type));
  w.FieldI32(2, ph.uncompressed_page_size);
  w.FieldI32(3, ph.compressed_page_size);
  if (ph.data_page) {
    const auto& h = *ph.data_page;
    w.FieldStruct(5);
    w.FieldI32(1, h.num_values);
    w.FieldI32(2, static_cast<int32_t>(h.encoding));
    w.FieldI32(3, static_cast<int32_t>(h.definition_level_encoding));
    w.FieldI32(4, static_cast<int32_t>(h.repetition_level_encoding));
    w.EndStruct();
  }
  if (ph.dictionary_page) {
    w.FieldStruct(7);
    w.FieldI32(1, ph.dictionary_page->num_values);
    w.FieldI32(2, static_cast<int32_t>(ph.dictionary_page->encoding));
    w.EndStruct();
  }
  if (ph.data_page_v2) {
    const auto& h = *ph.data_page_v2;
    w.FieldStruct(8);
    w.FieldI32(1, h.num_values);
    w.FieldI32(2, h.num_nulls);
    w.FieldI32(3, h.num_rows);
    w.FieldI32(4, static_cast<int32_t>(h.encoding));
    w.FieldI32(5, h.definition_levels_byte_length);
    w.FieldI32(6, h.repetition_levels_byte_length);
    w.FieldBool(7, h.is_compressed);
    w.EndStruct();
  }
  w.EndStruct();
}

}  // namespace structflow::io::parquet
