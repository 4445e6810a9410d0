// Maps a Parquet schema (the flat SchemaElement list of the footer) to a tree of nodes carrying
// the table type, definition/repetition levels and the leaf each primitive reads from; and a table
// schema back to Parquet SchemaElements for the writer. Internal to the Parquet module.
// Thread-safety: plain values.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "io/parquet/metadata.h"
#include "table/types.h"

namespace structflow::io::parquet {

// How a leaf's physical values become table values.
enum class Conv : uint8_t {
  kBool,
  kInt,            // INT32/INT64 as they are (signed ints, dates, timestamps, time, decimals)
  kUInt32,         // INT32 holding an unsigned 32-bit value, widened to int64
  kInt96,          // INT96 timestamp to microseconds (DuckDB's reading; ns would end in 2262)
  kFloat,          // FLOAT or DOUBLE
  kFloat16,        // FIXED_LEN_BYTE_ARRAY(2) half floats
  kBytes,          // BYTE_ARRAY / FIXED_LEN_BYTE_ARRAY as string or binary
  kDecimalBytes,   // big-endian two's complement to int64 unscaled
  kDecimalString,  // decimal wider than int64 (from any physical type) as exact text
  kNull,           // UNKNOWN logical type: always null
};

struct Node {
  enum class Kind : uint8_t { kLeaf, kStruct, kList, kMap };
  Kind kind = Kind::kLeaf;
  std::string name;
  table::TypePtr type;
  bool nullable = true;
  int def = 0;                 // definition level at which this node's value is present (non-null)
  int list_rep = 0;            // list/map: repetition level of its repeated group
  int elem_def = 0;            // list/map: definition level at which it has at least one element
  std::vector<Node> children;  // struct fields; list/map: one child (element / entries struct)
  int first_leaf = 0, num_leaves = 0;  // leaves (column chunks) under this node, in file order
  // Leaf only.
  PhysicalType physical = PhysicalType::kInt32;
  int type_length = 0;
  Conv conv = Conv::kInt;
  int scale = 0;
  int max_def = 0, max_rep = 0;
  std::string path;  // dotted path_in_schema
};

// Builds the node tree (one node per top-level field) from a footer schema.
Status BuildNodes(const std::vector<SchemaElement>& schema, std::vector<Node>* out);

table::Schema TableSchemaOf(const std::vector<Node>& nodes);

// Appends the Parquet schema elements (root included) for a table schema.
Status SchemaElementsFor(const table::Schema& schema, std::vector<SchemaElement>* out);

}  // namespace structflow::io::parquet
