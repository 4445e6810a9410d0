// Fuzz target for the JSONL and CSV readers: each input is a whole file, read to the end (schema
// inference over the first lines, then every batch). Built twice by run_libfuzzer.sh, as
// jsonl_fuzz (-DSTRUCTFLOW_FUZZ_CSV=0) and csv_fuzz (=1). Any Status is fine; a crash, hang,
// leak or sanitizer report is a bug.
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "io/formats.h"
#include "table/record_batch.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string path = structflow::fuzz::MemFile(data, size);
  structflow::io::ReadOptions ro;
  ro.batch_rows = 7;
  ro.infer_rows = 20;
  // Inputs whose size is a multiple of 3 also exercise a type override.
  if (size % 3 == 0) ro.type_overrides = {"a=string"};
#if STRUCTFLOW_FUZZ_CSV
  auto src = structflow::io::OpenCsvSource({path}, ro);
#else
  auto src = structflow::io::OpenJsonlSource({path}, ro);
#endif
  if (!src.ok()) return 0;
  for (int guard = 0; guard < 100000; ++guard) {
    auto b = (*src)->Next();
    if (!b.ok() || !b->has_value()) return 0;
    if (!(*b)->Validate().ok()) std::abort();
    std::string json;
    for (int64_t r = 0; r < (*b)->num_rows(); ++r) structflow::table::AppendRowJson(**b, r, &json);
  }
  return 0;
}
