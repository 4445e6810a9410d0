// Row transforms applied to the input stream before anything is sent: --explode (a list column
// becomes one row per element) and --extract (a new string column from the first capture group
// of a regex over another column). The same transforms run in the request pass and in the
// output pass, so row ids line up.
// Thread-safety: immutable after Make; Apply may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "table/column_path.h"
#include "table/record_batch.h"

namespace re2 {
class RE2;
}

namespace structflow::engine {

struct ExtractSpec {
  std::string name;    // the new column
  std::string source;  // a column path
  std::string regex;   // RE2 syntax; the first capture group (or the whole match) is kept
  // Parses "NAME=COLUMN_PATH:REGEX".
  static Result<ExtractSpec> Parse(const std::string& text);
};

class Transformer {
 public:
  static Result<Transformer> Make(const table::Schema& input,
                                  const std::vector<std::string>& explode,
                                  const std::vector<ExtractSpec>& extracts);
  const table::Schema& output_schema() const { return output_; }
  // Explodes then extracts, in the order given on the command line.
  table::RecordBatch Apply(table::RecordBatch batch) const;
  bool identity() const { return explode_.empty() && extracts_.empty(); }

 private:
  struct Extract {
    table::ColumnPath path;
    std::shared_ptr<re2::RE2> re;
  };
  table::Schema output_;
  std::vector<std::string> explode_;  // top-level list columns, in order
  std::vector<Extract> extracts_;
  std::vector<std::string> extract_names_;
};

}  // namespace structflow::engine
