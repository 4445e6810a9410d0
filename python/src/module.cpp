// structflow._structflow: the engine library (include/structflow/engine.h) for Python. The
// Python part (python/structflow/__init__.py) builds the JobSpec as JSON, turns DataFrames into
// plain column lists and back, and owns the waiting loop (so Ctrl-C reaches Python code); this
// file converts Python values to record batches and record batches back to Python values, runs
// jobs with the GIL released, and exposes the simulator, doctor and eval scoring.
//
// Errors: a Status becomes structflow.JobError (or a subclass) through
// structflow._errors.from_status(stage, code, message, detail), which picks the class.
// Thread-safety: every function may be called from any Python thread; blocking calls release the
// GIL (the engine's own threads never call into Python).
#include <fmt/format.h>
#include <pthread.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/row_error.h"
#include "engine/doctor.h"
#include "engine/eval.h"
#include "engine/progress.h"
#include "sim/server.h"
#include "structflow/engine.h"
#include "table/record_batch.h"

namespace py = pybind11;

namespace structflow::python {
namespace {

using table::Column;
using table::DataType;
using table::Field;
using table::RecordBatch;
using table::TypeId;
using table::TypePtr;

// Raises the JobError subclass for `st`; `stage` says what was being done ("input", "plan",
// "schema", "server", "run") so the Python side can name the kind of problem.
[[noreturn]] void Raise(const Status& st, const char* stage) {
  py::object detail = py::none();
  if (auto* ff = dynamic_cast<const FailFastDetail*>(st.detail().get())) {
    py::dict d;
    d["kind"] = std::string(ErrorKindName(ff->error.kind));
    d["message"] = ff->error.message;
    d["http_status"] = ff->error.http_status;
    d["rows"] = ff->rows;
    d["advice"] = ff->advice;
    detail = d;
  }
  py::object err =
      py::module_::import("structflow._errors")
          .attr("from_status")(stage, std::string(StatusCodeName(st.code())), st.message(), detail);
  PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(err.ptr())), err.ptr());
  throw py::error_already_set();
}

template <typename T>
T Unwrap(Result<T> r, const char* stage) {
  if (!r.ok()) Raise(r.status(), stage);
  return std::move(*r);
}

// Threads started while this lives (the engine's, the simulator's) inherit SIGINT and SIGTERM
// blocked, so those signals reach Python's threads only: Python's handler runs there and
// raises KeyboardInterrupt in the main thread, and no engine system call sees EINTR.
class BlockSignalsForNewThreads {
 public:
  BlockSignalsForNewThreads() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~BlockSignalsForNewThreads() { pthread_sigmask(SIG_SETMASK, &old_, nullptr); }
  BlockSignalsForNewThreads(const BlockSignalsForNewThreads&) = delete;
  BlockSignalsForNewThreads& operator=(const BlockSignalsForNewThreads&) = delete;

 private:
  sigset_t old_;
};

// ---------------------------------------------------------------------------------------------
// Python values -> record batches

// Numpy arrays and scalars become plain Python values through tolist(); anything else is kept.
py::object Plain(py::handle v) {
  if (PyLong_Check(v.ptr()) || PyFloat_Check(v.ptr()) || PyUnicode_Check(v.ptr()) ||
      PyBytes_Check(v.ptr()) || PyDict_Check(v.ptr()) || PyList_Check(v.ptr()) ||
      PyTuple_Check(v.ptr()) || v.is_none()) {
    return py::reinterpret_borrow<py::object>(v);
  }
  if (py::hasattr(v, "tolist")) return v.attr("tolist")();
  return py::reinterpret_borrow<py::object>(v);
}

bool IsMissing(py::handle v) {
  if (v.is_none()) return true;
  if (PyFloat_Check(v.ptr())) return std::isnan(PyFloat_AsDouble(v.ptr()));
  return false;
}

// What a column holds so far; kNull: only missing values yet.
TypePtr Merge(const TypePtr& a, const TypePtr& b, const std::string& where) {
  if (a->id() == TypeId::kNull) return b;
  if (b->id() == TypeId::kNull) return a;
  if (a->id() == b->id()) {
    if (a->id() == TypeId::kList)
      return DataType::List(Merge(a->element(), b->element(), where + "[]"));
    if (a->id() == TypeId::kStruct) {
      std::vector<Field> fields = a->fields();
      for (const auto& f : b->fields()) {
        int i = a->FieldIndex(f.name);
        if (i < 0) {
          fields.push_back(f);
        } else {
          fields[i].type = Merge(fields[i].type, f.type, where + "." + f.name);
        }
      }
      return DataType::Struct(std::move(fields));
    }
    return a;
  }
  if ((a->id() == TypeId::kInt64 && b->id() == TypeId::kDouble) ||
      (a->id() == TypeId::kDouble && b->id() == TypeId::kInt64))
    return DataType::Double();
  throw py::value_error(fmt::format(
      "column '{}' mixes values of type {} and {}: give one type per column (convert with "
      "df['{}'].astype(str), or bytes for images)",
      where, a->ToString(), b->ToString(), where));
}

TypePtr Infer(py::handle raw, const std::string& where) {
  if (IsMissing(raw)) return DataType::Null();
  if (PyBool_Check(raw.ptr())) return DataType::Bool();
  py::object v = Plain(raw);
  if (IsMissing(v)) return DataType::Null();
  PyObject* p = v.ptr();
  if (PyBool_Check(p)) return DataType::Bool();
  if (PyLong_Check(p)) return DataType::Int64();
  if (PyFloat_Check(p)) return DataType::Double();
  if (PyUnicode_Check(p)) return DataType::String();
  if (PyBytes_Check(p) || PyByteArray_Check(p) || PyMemoryView_Check(p)) return DataType::Binary();
  if (PyDict_Check(p)) {
    std::vector<Field> fields;
    for (auto item : py::reinterpret_borrow<py::dict>(v)) {
      if (!PyUnicode_Check(item.first.ptr())) {
        throw py::value_error(fmt::format(
            "column '{}' holds a dict with a key that is not a string ({}): use string keys", where,
            py::repr(item.first).cast<std::string>()));
      }
      std::string name = item.first.cast<std::string>();
      fields.push_back({name, Infer(item.second, where + "." + name), true});
    }
    return DataType::Struct(std::move(fields));
  }
  if (PyList_Check(p) || PyTuple_Check(p)) {
    TypePtr element = DataType::Null();
    for (auto e : v) element = Merge(element, Infer(e, where + "[]"), where + "[]");
    return DataType::List(element);
  }
  throw py::value_error(fmt::format(
      "column '{}' holds a value of type {} that structflow cannot send: use str, int, float, "
      "bool, bytes, dicts or lists of them (convert with df['{}'].astype(str))",
      where, py::str(py::type::of(v).attr("__name__")).cast<std::string>(), where));
}

// Columns that held only missing values (and such struct fields and list elements) become
// strings: every sink can hold them.
TypePtr Settle(const TypePtr& t) {
  switch (t->id()) {
    case TypeId::kNull:
      return DataType::String();
    case TypeId::kList:
      return DataType::List(Settle(t->element()));
    case TypeId::kStruct: {
      std::vector<Field> fields = t->fields();
      for (auto& f : fields) f.type = Settle(f.type);
      return DataType::Struct(std::move(fields));
    }
    default:
      return t;
  }
}

void Append(Column& col, py::handle raw) {
  if (IsMissing(raw)) {
    col.AppendNull();
    return;
  }
  py::object v = Plain(raw);
  if (IsMissing(v)) {
    col.AppendNull();
    return;
  }
  switch (col.type_id()) {
    case TypeId::kBool:
      col.AppendBool(PyObject_IsTrue(v.ptr()) == 1);
      return;
    case TypeId::kInt64:
      col.AppendInt(v.cast<int64_t>());
      return;
    case TypeId::kDouble:
      col.AppendDouble(v.cast<double>());
      return;
    case TypeId::kString:
      col.AppendBytes(v.cast<std::string>());
      return;
    case TypeId::kBinary: {
      if (PyBytes_Check(v.ptr())) {
        char* data = nullptr;
        Py_ssize_t size = 0;
        PyBytes_AsStringAndSize(v.ptr(), &data, &size);
        col.AppendBytes(std::string_view(data, static_cast<size_t>(size)));
      } else {
        col.AppendBytes(py::bytes(v).cast<std::string>());
      }
      return;
    }
    case TypeId::kList:
      for (auto e : v) Append(col.child(0), e);
      col.CloseList();
      return;
    case TypeId::kStruct: {
      auto d = py::reinterpret_borrow<py::dict>(v);
      const auto& fields = col.type()->fields();
      for (size_t k = 0; k < fields.size(); ++k) {
        py::str key(fields[k].name);
        if (d.contains(key)) {
          Append(col.child(static_cast<int>(k)), d[key]);
        } else {
          Append(col.child(static_cast<int>(k)), py::none());
        }
      }
      col.CloseStruct();
      return;
    }
    default:
      col.AppendNull();
  }
}

// names[i] holds values[i] (a list); returns batches of at most `batch_rows` rows.
std::vector<RecordBatch> ToBatches(const std::vector<std::string>& names, const py::list& values,
                                   int64_t batch_rows) {
  if (names.size() != values.size()) throw py::value_error("names and columns differ in length");
  if (names.empty()) {
    throw py::value_error("the data has no columns: give at least one column for the prompt");
  }
  table::Schema schema;
  int64_t rows = -1;
  for (size_t c = 0; c < names.size(); ++c) {
    py::list column = values[c];
    int64_t n = static_cast<int64_t>(column.size());
    if (rows >= 0 && n != rows) {
      throw py::value_error(
          fmt::format("column '{}' has {} values, column '{}' has {}: give "
                      "columns of one length",
                      names[c], n, names[0], rows));
    }
    rows = n;
    TypePtr t = DataType::Null();
    for (auto v : column) t = Merge(t, Infer(v, names[c]), names[c]);
    schema.fields.push_back({names[c], Settle(t), true});
  }
  std::vector<RecordBatch> batches;
  for (int64_t start = 0; start < rows || batches.empty(); start += batch_rows) {
    int64_t end = std::min(rows, start + batch_rows);
    RecordBatch b = RecordBatch::Empty(schema);
    for (size_t c = 0; c < names.size(); ++c) {
      py::list column = values[c];
      Column& col = b.columns[c];
      col.Reserve(end - start);
      for (int64_t r = start; r < end; ++r) Append(col, column[static_cast<size_t>(r)]);
    }
    batches.push_back(std::move(b));
    if (end >= rows) break;
  }
  return batches;
}

// ---------------------------------------------------------------------------------------------
// Record batches -> Python values

py::object ToPy(const Column& col, int64_t i) {
  if (col.IsNull(i)) return py::none();
  switch (col.type_id()) {
    case TypeId::kNull:
      return py::none();
    case TypeId::kBool:
      return py::bool_(col.GetBool(i));
    case TypeId::kInt32:
    case TypeId::kInt64:
      return py::int_(col.GetInt(i));
    case TypeId::kFloat:
    case TypeId::kDouble:
      return py::float_(col.GetDouble(i));
    case TypeId::kString: {
      std::string_view s = col.GetBytes(i);
      PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
      if (o == nullptr) throw py::error_already_set();
      return py::reinterpret_steal<py::object>(o);
    }
    case TypeId::kBinary: {
      std::string_view s = col.GetBytes(i);
      return py::bytes(s.data(), s.size());
    }
    case TypeId::kList: {
      auto [first, last] = col.ListRange(i);
      py::list out;
      for (int64_t k = first; k < last; ++k) out.append(ToPy(col.child(0), k));
      return out;
    }
    case TypeId::kStruct: {
      py::dict out;
      const auto& fields = col.type()->fields();
      for (size_t k = 0; k < fields.size(); ++k)
        out[py::str(fields[k].name)] = ToPy(col.child(static_cast<int>(k)), i);
      return out;
    }
    case TypeId::kMap: {
      auto [first, last] = col.ListRange(i);
      const Column& entries = col.child(0);
      bool string_keys = entries.child(0).type_id() == TypeId::kString;
      if (string_keys) {
        py::dict out;
        for (int64_t k = first; k < last; ++k)
          out[ToPy(entries.child(0), k)] = ToPy(entries.child(1), k);
        return out;
      }
      py::list out;
      for (int64_t k = first; k < last; ++k)
        out.append(py::make_tuple(ToPy(entries.child(0), k), ToPy(entries.child(1), k)));
      return out;
    }
    default: {
      // Dates, timestamps and decimals as their display text.
      std::string text;
      table::AppendCellText(col, i, &text);
      return py::str(text);
    }
  }
}

// {name: [values...]} in schema order, over every batch.
py::dict BatchesToColumns(const std::vector<RecordBatch>& batches, const table::Schema& schema) {
  py::dict out;
  for (size_t c = 0; c < schema.fields.size(); ++c) {
    py::list values;
    for (const auto& b : batches) {
      const Column& col = b.columns[c];
      for (int64_t r = 0; r < col.length(); ++r) values.append(ToPy(col, r));
    }
    out[py::str(schema.fields[c].name)] = values;
  }
  return out;
}

py::dict ProgressDict(const JobProgress& p) {
  py::dict d;
  d["total"] = p.total;
  d["resumed"] = p.resumed;
  d["done"] = p.done;
  d["succeeded"] = p.succeeded;
  d["failed"] = std::max<int64_t>(0, p.done - p.succeeded);  // the two are read apart
  d["in_flight"] = p.in_flight;
  d["http_retries"] = p.http_retries;
  d["output_retries"] = p.output_retries;
  d["prompt_tokens"] = p.prompt_tokens;
  d["completion_tokens"] = p.completion_tokens;
  d["elapsed_s"] = p.elapsed_s;
  d["line"] = engine::RenderProgress(p);
  return d;
}

py::dict ReportDict(const JobReport& r) {
  py::dict d;
  d["complete"] = r.complete;
  d["stopped"] = r.stopped;
  d["model"] = r.model;
  d["dialect"] = r.dialect;
  d["sent_this_run"] = r.sent_this_run;
  d["resumed"] = r.resumed;
  d["succeeded"] = r.succeeded;
  d["failed"] = r.failed;
  d["error_rows"] = r.error_rows;
  d["elapsed_s"] = r.elapsed_s;
  d["requests"] = r.requests;
  d["http_retries"] = r.http_retries;
  d["output_retries"] = r.output_retries;
  d["latency_p50_s"] = r.latency_p50_s;
  d["latency_p90_s"] = r.latency_p90_s;
  d["latency_p99_s"] = r.latency_p99_s;
  d["prompt_tokens"] = r.prompt_tokens;
  d["completion_tokens"] = r.completion_tokens;
  d["row_store"] = r.row_store;
  d["json"] = ToJson(r);
  return d;
}

// ---------------------------------------------------------------------------------------------
// Wrapped objects

struct PyInput {
  std::shared_ptr<Input> input;
  std::vector<std::string> columns() const {
    std::vector<std::string> out;
    for (const auto& f : input->schema().fields) out.push_back(f.name);
    return out;
  }
  std::string schema_text() const { return input->schema().ToString(); }
};

struct PyStore {
  std::shared_ptr<RowStore> store;
  std::string location() const { return store->location(); }
};

// A running job. Once its result is taken the engine job (and with it the row store: a SQLite
// checkpoint stays locked while open) is let go; progress() then gives the last figures.
class PyJob {
 public:
  PyJob(std::shared_ptr<Engine> engine, std::shared_ptr<Job> job, std::shared_ptr<Sink> sink)
      : engine_(std::move(engine)), job_(std::move(job)), sink_(std::move(sink)) {}
  // A job dropped while running is abandoned (Job's destructor): wait for that without the GIL.
  ~PyJob() {
    py::gil_scoped_release release;
    job_.reset();
    engine_.reset();
    sink_.reset();
  }
  PyJob(const PyJob&) = delete;
  PyJob& operator=(const PyJob&) = delete;

  bool WaitFor(double seconds) {
    if (!job_) return true;
    std::shared_ptr<Job> job = job_;
    py::gil_scoped_release release;
    return job->WaitFor(std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000)));
  }
  void Stop(bool abandon) {
    if (job_) job_->Stop(abandon ? StopMode::kAbandon : StopMode::kDrain);
  }
  py::dict Progress() const { return ProgressDict(job_ ? job_->progress() : last_); }

  // (report, columns or None): the columns of the in-memory sink once the job completed.
  py::tuple Result() {
    if (!job_) throw py::value_error("the job's result was taken already");
    ::structflow::Result<JobReport> r = Status::OK();
    {
      std::shared_ptr<Job> job = job_;
      py::gil_scoped_release release;
      r = job->Wait();
    }
    last_ = job_->progress();
    job_.reset();
    engine_.reset();
    std::shared_ptr<Sink> sink = std::move(sink_);
    if (!r.ok()) Raise(r.status(), "run");
    py::object columns = py::none();
    if (r->complete) {
      std::vector<RecordBatch> batches = sink->batches();
      if (!batches.empty()) columns = BatchesToColumns(batches, batches[0].schema);
    }
    return py::make_tuple(ReportDict(*r), columns);
  }

 private:
  std::shared_ptr<Engine> engine_;
  std::shared_ptr<Job> job_;
  std::shared_ptr<Sink> sink_;
  JobProgress last_;
};

EngineOptions MakeEngineOptions(const py::dict& o) {
  EngineOptions eo;
  eo.endpoints = o["endpoints"].cast<std::vector<std::string>>();
  eo.api_key = o["api_key"].cast<std::string>();
  eo.concurrency = o["concurrency"].cast<int>();
  eo.max_attempts = o["max_attempts"].cast<int>();
  eo.request_timeout_s = o["request_timeout_s"].cast<double>();
  eo.stall_timeout_s = o["stall_timeout_s"].cast<double>();
  eo.connect_timeout_s = o["connect_timeout_s"].cast<double>();
  eo.workers = o["workers"].cast<int>();
  eo.image_cache_mb = o["image_cache_mb"].cast<int64_t>();
  if (o["has_images"].cast<bool>()) eo.request_queue = 64;  // as the CLI: ~100 KB per body
  return eo;
}

// An engine kept by Python to run several jobs on one client (one adaptive controller): the
// per-process engine of structflow.dask, shared by every partition a worker process runs.
struct PyEngine {
  std::shared_ptr<Engine> engine;
  int in_flight() const { return engine->in_flight(); }
  int concurrency_limit() const { return engine->concurrency_limit(); }
};

PyEngine MakeEngine(const py::dict& engine_options) {
  EngineOptions eo = MakeEngineOptions(engine_options);
  ::structflow::Result<std::shared_ptr<Engine>> made = Status::OK();
  {
    py::gil_scoped_release release;
    BlockSignalsForNewThreads block;
    made = Engine::Make(eo);
  }
  return PyEngine{Unwrap(std::move(made), "server")};
}

// Plans and starts a job. The plan is checked in three steps so the error names the kind of
// problem: the spec without its constraint offline (the input: columns, template, transforms),
// with it offline (the schema, choices or regex), then against the server (model, endpoint).
// `shared`: run on that engine instead of a new one made from `engine_options`.
std::unique_ptr<PyJob> Start(const PyInput& in, const std::string& spec_json,
                             const py::dict& engine_options, const PyStore& store,
                             bool results_only, const PyEngine* shared) {
  JobSpec spec = Unwrap(JobSpecFromJson(spec_json), "input");
  EngineOptions eo = MakeEngineOptions(engine_options);
  std::shared_ptr<Sink> sink = Sink::Memory(SinkOptions{results_only});
  ::structflow::Result<std::shared_ptr<Job>> job = Status::OK();
  std::shared_ptr<Engine> engine;
  const char* stage = "server";
  {
    py::gil_scoped_release release;
    BlockSignalsForNewThreads block;
    ::structflow::Result<std::shared_ptr<Engine>> made = Status::OK();
    if (shared != nullptr) {
      made = shared->engine;
    } else {
      made = Engine::Make(eo);
    }
    if (!made.ok()) {
      job = made.status();
    } else {
      engine = *made;
      JobSpec bare = spec;
      bare.constraint = ConstraintKind::kNone;
      bare.confidence = ConfidenceMode::kOff;  // checked with the constraint, below
      const table::Schema& schema = in.input->schema();
      auto p = engine->Plan(bare, schema, /*offline=*/true);
      stage = "input";
      if (p.ok() && spec.constraint != ConstraintKind::kNone) {
        p = engine->Plan(spec, schema, /*offline=*/true);
        stage = "schema";
      }
      if (p.ok()) {
        p = engine->Plan(spec, schema);
        stage = "server";
      }
      if (!p.ok()) {
        job = p.status();
      } else {
        job = engine->Start(*p, in.input, store.store, sink);
        stage = "run";
      }
    }
  }
  if (!job.ok()) Raise(job.status(), stage);
  return std::make_unique<PyJob>(std::move(engine), std::move(*job), std::move(sink));
}

class PySim {
 public:
  explicit PySim(const py::dict& o) {
    sim::SimOptions so;
    so.port = 0;
    if (o.contains("models")) so.models = o["models"].cast<std::vector<std::string>>();
    if (o.contains("api")) so.api = o["api"].cast<std::string>();
    if (o.contains("latency_ms")) so.latency_ms = o["latency_ms"].cast<double>();
    if (o.contains("max_num_seqs")) so.max_num_seqs = o["max_num_seqs"].cast<int>();
    if (o.contains("faults")) so.faults = o["faults"].cast<std::string>();
    if (o.contains("seed")) so.seed = o["seed"].cast<uint64_t>();
    if (o.contains("image_support")) so.image_support = o["image_support"].cast<bool>();
    if (o.contains("max_model_len")) so.max_model_len = o["max_model_len"].cast<int>();
    if (o.contains("threads")) so.threads = o["threads"].cast<int>();
    ::structflow::Result<std::unique_ptr<sim::Server>> s = Status::OK();
    {
      py::gil_scoped_release release;
      BlockSignalsForNewThreads block;
      s = sim::Server::Start(so);
    }
    server_ = Unwrap(std::move(s), "server");
  }
  std::string url() const { return server_ ? server_->base_url() : ""; }
  int port() const { return server_ ? server_->port() : 0; }
  py::dict metrics() const {
    sim::SimMetrics m = server_->metrics();
    py::dict d;
    d["requests_total"] = m.requests_total;
    d["chat_requests"] = m.chat_requests;
    d["running"] = m.running;
    d["responses_200"] = m.responses_200;
    d["responses_4xx"] = m.responses_4xx;
    d["responses_5xx"] = m.responses_5xx;
    return d;
  }
  void Stop() {
    if (!server_) return;
    py::gil_scoped_release release;
    server_->Stop();
  }

 private:
  std::unique_ptr<sim::Server> server_;
};

py::dict Doctor(const std::string& endpoint, const std::string& model, const std::string& api_key,
                const std::string& api_key_file, const std::string& api_key_env, bool load_test) {
  engine::DoctorOptions o;
  o.endpoint = endpoint;
  o.model = model;
  o.api_key = api_key;
  o.api_key_file = api_key_file;
  o.api_key_env = api_key_env;
  o.load_test = load_test;
  engine::DoctorReport r;
  {
    py::gil_scoped_release release;
    r = engine::RunDoctor(o, [](const engine::CheckLine&) {});
  }
  py::list lines;
  for (const auto& l : r.lines) {
    const char* v = l.verdict == engine::Verdict::kOk     ? "ok"
                    : l.verdict == engine::Verdict::kWarn ? "warn"
                                                          : "fail";
    lines.append(py::make_tuple(l.name, v, l.text, engine::FormatCheckLine(l)));
  }
  py::dict d;
  d["lines"] = lines;
  d["ok"] = r.job_can_run();
  d["dialects_honoured"] = r.dialects_honoured;
  d["images_accepted"] = r.images_accepted;
  d["image_limit"] = r.image_limit;
  d["max_model_len"] = r.max_model_len;
  d["suggested_concurrency"] = r.suggested_concurrency;
  return d;
}

// One row to score: (failed, has_key, pred, key, group, error kind, error message), pred and
// key already normalised when asked (NormalizeAnswer). score/compare return (the JSON text
// `eval --json` prints, the text `eval` prints).
using OutcomeTuple =
    std::tuple<bool, bool, std::string, std::string, std::string, std::string, std::string>;

std::vector<engine::RowOutcome> Outcomes(const std::vector<OutcomeTuple>& rows) {
  std::vector<engine::RowOutcome> out;
  out.reserve(rows.size());
  for (const auto& [failed, has_key, pred, key, group, kind, message] : rows) {
    engine::RowOutcome o;
    o.failed = failed;
    o.has_key = has_key;
    o.pred = pred;
    o.key = key;
    o.group = group;
    o.error_kind = kind;
    o.error_message = message;
    out.push_back(std::move(o));
  }
  return out;
}

engine::EvalOptions MakeEvalOptions(const std::string& by, bool normalize) {
  engine::EvalOptions o;
  o.by = by;
  o.normalize = normalize;
  return o;
}

}  // namespace
}  // namespace structflow::python

PYBIND11_MODULE(_structflow, m) {
  using namespace structflow;
  using namespace structflow::python;
  m.doc() = "structflow's engine (see the structflow package)";

  py::class_<PyInput>(m, "Input")
      .def_property_readonly("columns", &PyInput::columns)
      .def_property_readonly("schema", &PyInput::schema_text);
  py::class_<PyStore>(m, "RowStore").def_property_readonly("location", &PyStore::location);
  py::class_<PyJob>(m, "Job")
      .def("wait_for", &PyJob::WaitFor, py::arg("seconds"))
      .def("stop", &PyJob::Stop, py::arg("abandon") = false)
      .def("progress", &PyJob::Progress)
      .def("result", &PyJob::Result);
  py::class_<PySim>(m, "Sim")
      .def(py::init<const py::dict&>())
      .def_property_readonly("url", &PySim::url)
      .def_property_readonly("port", &PySim::port)
      .def("metrics", &PySim::metrics)
      .def("stop", &PySim::Stop);

  m.def(
      "input_from_columns",
      [](const std::vector<std::string>& names, const py::list& values, const std::string& base_dir,
         int64_t batch_rows) {
        std::vector<RecordBatch> batches;
        try {
          batches = ToBatches(names, values, batch_rows);
        } catch (const py::value_error& e) {
          Raise(Status::InvalidArgument(e.what()), "input");
        }
        return PyInput{Unwrap(Input::Batches(std::move(batches), base_dir), "input")};
      },
      py::arg("names"), py::arg("values"), py::arg("base_dir"), py::arg("batch_rows") = 4096);
  m.def(
      "input_from_files",
      [](const std::vector<std::string>& paths) {
        ::structflow::Result<std::shared_ptr<Input>> r = Status::OK();
        {
          py::gil_scoped_release release;
          r = Input::Files(paths);
        }
        return PyInput{Unwrap(std::move(r), "input")};
      },
      py::arg("paths"));
  m.def(
      "sqlite_store",
      [](const std::string& path, const std::string& job_key) {
        return PyStore{Unwrap(RowStore::Sqlite(path, job_key), "input")};
      },
      py::arg("path"), py::arg("job_key"));
  m.def(
      "set_log_level",
      [](const std::string& level) {
        LogLevel l;
        if (!ParseLogLevel(level, &l))
          throw py::value_error("log level '" + level + "': use debug, info, warn or error");
        SetLogLevel(l);
      },
      py::arg("level"));
  m.def("memory_store", [] { return PyStore{RowStore::Memory()}; });
  py::class_<PyEngine>(m, "Engine")
      .def_property_readonly("in_flight", &PyEngine::in_flight)
      .def_property_readonly("concurrency_limit", &PyEngine::concurrency_limit);
  m.def("engine", &MakeEngine, py::arg("engine_options"));
  m.def("start", &Start, py::arg("input"), py::arg("spec_json"), py::arg("engine_options"),
        py::arg("store"), py::arg("results_only"), py::arg("engine") = nullptr);
  m.def("doctor", &Doctor, py::arg("endpoint"), py::arg("model"), py::arg("api_key"),
        py::arg("api_key_file"), py::arg("api_key_env"), py::arg("load_test"));
  m.def("normalize_answer", [](const std::string& text) { return engine::NormalizeAnswer(text); });
  m.def(
      "score",
      [](const std::string& name, const std::vector<OutcomeTuple>& rows, const std::string& by,
         bool normalize) {
        engine::Score score =
            engine::ScoreOutcomes(name, Outcomes(rows), MakeEvalOptions(by, normalize));
        return py::make_tuple(engine::ScoreJson(score), engine::FormatScore(score));
      },
      py::arg("name"), py::arg("rows"), py::arg("by"), py::arg("normalize"));
  m.def(
      "compare",
      [](const std::string& name_a, const std::vector<OutcomeTuple>& rows_a,
         const std::string& name_b, const std::vector<OutcomeTuple>& rows_b, const std::string& by,
         bool normalize) {
        auto a = Outcomes(rows_a);
        auto b = Outcomes(rows_b);
        auto c = Unwrap(engine::Compare(a, b), "input");
        engine::EvalOptions o = MakeEvalOptions(by, normalize);
        engine::Score sa = engine::ScoreOutcomes(name_a, a, o),
                      sb = engine::ScoreOutcomes(name_b, b, o);
        return py::make_tuple(engine::ComparisonJson(sa, sb, c),
                              engine::FormatComparison(sa, sb, c, name_a, name_b));
      },
      py::arg("name_a"), py::arg("rows_a"), py::arg("name_b"), py::arg("rows_b"), py::arg("by"),
      py::arg("normalize"));
  m.def(
      "read_outcomes",
      [](const std::string& file, const std::string& pred, const std::string& key,
         const std::string& error, const std::string& by, bool normalize) {
        engine::EvalOptions o = MakeEvalOptions(by, normalize);
        o.pred = pred;
        o.key = key;
        o.error = error;
        auto rows = Unwrap(engine::ReadOutcomes(file, o), "input");
        std::vector<OutcomeTuple> out;
        for (auto& r : rows)
          out.emplace_back(r.failed, r.has_key, r.pred, r.key, r.group, r.error_kind,
                           r.error_message);
        return out;
      },
      py::arg("file"), py::arg("pred"), py::arg("key"), py::arg("error"), py::arg("by"),
      py::arg("normalize"));
}
