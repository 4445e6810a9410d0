// Fuzz target for the JSON Schema compiler and the answer validator: the input is a schema, then
// (after the first NUL byte, if any) a model answer checked against it under each dialect. Any
// Status is fine; a crash, hang or sanitizer report is a bug.
#include <cstdint>
#include <string_view>

#include "schema/constraint.h"
#include "table/column.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t nul = in.find('\0');
  std::string_view schema = in.substr(0, nul);
  std::string_view answer = nul == std::string_view::npos ? "{}" : in.substr(nul + 1);
  auto c = structflow::schema::Constraint::FromSchemaText(schema, "fuzz.json");
  if (!c.ok()) return 0;
  for (auto d : {structflow::schema::Dialect::kVllm, structflow::schema::Dialect::kOpenAI}) {
    (void)c->RequestMembers(d);
    structflow::table::Column out(c->OutputType());
    (void)c->ParseInto(answer, d, &out);
  }
  return 0;
}
