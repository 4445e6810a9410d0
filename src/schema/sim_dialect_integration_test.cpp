// Integration: the schema module against the simulator (in-process, port 0), over real HTTP
// with libcurl. Shows that ProbeDialect finds a dialect each server version honours, that the
// example schemas round-trip (request, simulated answer, validation, typed column, JSON and
// back), and that a server ignoring the constraint yields invalid_output, never typed values.
#include <curl/curl.h>
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "schema/chat_completion.h"
#include "schema/constraint.h"
#include "schema/probe.h"
#include "sim/server.h"
#include "table/record_batch.h"

namespace structflow::schema {
namespace {

size_t WriteBody(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// POSTs a chat completion body; non-2xx statuses come back as errors carrying the body.
Result<std::string> Post(const std::string& url, const std::string& body) {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> h(curl_easy_init(), curl_easy_cleanup);
  if (!h) return Status::Internal("curl_easy_init failed");
  std::string response;
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  curl_easy_setopt(h.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(h.get(), CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(h.get(), CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(h.get(), CURLOPT_WRITEFUNCTION, WriteBody);
  curl_easy_setopt(h.get(), CURLOPT_WRITEDATA, &response);
  curl_easy_setopt(h.get(), CURLOPT_TIMEOUT, 30L);
  CURLcode rc = curl_easy_perform(h.get());
  long status = 0;
  curl_easy_getinfo(h.get(), CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    return Status::Unavailable(std::string("POST ") + url + ": " + curl_easy_strerror(rc));
  }
  if (status / 100 != 2) {
    return Status::InvalidArgument("HTTP " + std::to_string(status) + ": " + response);
  }
  return response;
}

class SimFixture {
 public:
  explicit SimFixture(const std::string& api) {
    sim::SimOptions options;
    options.api = api;
    options.latency_ms = 0;
    auto server = sim::Server::Start(options);
    EXPECT_TRUE(server.ok()) << server.status().ToString();
    if (server.ok()) server_ = std::move(server).value();
  }
  bool ok() const { return server_ != nullptr; }
  SendFn Sender() const {
    std::string url = server_->base_url() + "/chat/completions";
    return [url](const std::string& body) { return Post(url, body); };
  }
  // A request for `c` under `d`, with a prompt that varies with `i` (the sim's answers do).
  std::string Body(const Constraint& c, Dialect d, int i) const {
    std::string body = R"({"model":"sim-vlm","max_tokens":2000,"messages":[{"role":"user",)"
                       R"("content":"Describe item )" +
                       std::to_string(i) + R"("}],)" + c.RequestMembers(d) + "}";
    return body;
  }

 private:
  std::unique_ptr<sim::Server> server_;
};

// Removes from `cell` (a typed cell written as JSON) the members the model's `original` answer
// did not have: absent optional properties come back as null or as their default.
void StripAbsent(nlohmann::json* cell, const nlohmann::json& original) {
  if (cell->is_object() && original.is_object()) {
    for (auto it = cell->begin(); it != cell->end();) {
      if (!original.contains(it.key())) {
        it = cell->erase(it);
      } else {
        StripAbsent(&it.value(), original[it.key()]);
        ++it;
      }
    }
  } else if (cell->is_array() && original.is_array() && cell->size() == original.size()) {
    for (size_t i = 0; i < cell->size(); ++i) StripAbsent(&(*cell)[i], original[i]);
  }
}

struct ApiCase {
  const char* api;
  Dialect expected;  // what auto picks (the first of vllm, openai, vllm-legacy that works)
  std::vector<Dialect> working;
  std::vector<Dialect> ignored;
};

const ApiCase kApis[] = {
    {"vllm-0.12", Dialect::kVllm, {Dialect::kVllm, Dialect::kOpenAI}, {Dialect::kVllmLegacy}},
    {"vllm-0.10", Dialect::kOpenAI, {Dialect::kOpenAI, Dialect::kVllmLegacy}, {Dialect::kVllm}},
    {"openai", Dialect::kOpenAI, {Dialect::kOpenAI}, {Dialect::kVllm, Dialect::kVllmLegacy}},
};

std::string ExamplePath(const std::string& name) {
  return std::string(STRUCTFLOW_SOURCE_DIR) + "/examples/schemas/" + name;
}

TEST(SimDialect, AutoFindsTheDialectEachApiHonours) {
  auto invoice = *Constraint::FromSchemaFile(ExamplePath("invoice.json"));
  for (const auto& api : kApis) {
    SimFixture sim(api.api);
    ASSERT_TRUE(sim.ok());
    auto found = ProbeDialect(sim.Sender(), "sim-vlm", invoice);
    ASSERT_TRUE(found.ok()) << api.api << ": " << found.status().ToString();
    EXPECT_EQ(*found, api.expected) << api.api << " picked " << DialectName(*found);
  }
}

TEST(SimDialect, ExampleSchemasRoundTripInEveryWorkingDialect) {
  std::vector<Constraint> constraints;
  for (const char* name :
       {"invoice.json", "vqa.json", "product_listing.json", "classification.json"}) {
    auto c = Constraint::FromSchemaFile(ExamplePath(name));
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    constraints.push_back(*c);
  }
  constraints.push_back(*Constraint::FromChoices({"A", "B", "C", "D"}));
  constraints.push_back(*Constraint::FromRegex(R"([A-Z]{3}-\d{4})"));
  for (const auto& api : kApis) {
    SimFixture sim(api.api);
    ASSERT_TRUE(sim.ok());
    SendFn send = sim.Sender();
    for (const auto& c : constraints) {
      for (Dialect d : api.working) {
        table::Column column(c.OutputType());
        std::vector<std::string> originals;
        for (int i = 0; i < 8; ++i) {
          auto body = send(sim.Body(c, d, i));
          ASSERT_TRUE(body.ok()) << api.api << " " << DialectName(d) << ": "
                                 << body.status().ToString();
          auto answer = ParseChatCompletion(*body);
          ASSERT_TRUE(answer.ok()) << answer.status().ToString();
          ASSERT_EQ(answer->finish_reason, "stop") << answer->content;
          originals.push_back(answer->content);
          auto r = c.ParseInto(answer->content, d, &column);
          ASSERT_TRUE(r.error.ok())
              << api.api << " " << DialectName(d) << ": " << r.error.message << "\n"
              << answer->content;
        }
        ASSERT_EQ(column.length(), 8);
        // Written as JSON and read back: each cell parses again into the same typed value.
        if (c.kind() == Constraint::Kind::kJsonSchema) {
          table::Column back(c.OutputType());
          for (int64_t row = 0; row < column.length(); ++row) {
            std::string cell;
            table::AppendCellJson(column, row, &cell);
            ASSERT_EQ(originals.size(), 8u);
            auto original = nlohmann::json::parse(originals[row]);
            auto written = nlohmann::json::parse(cell);
            StripAbsent(&written, original);
            auto r = c.ParseInto(written.dump(), Dialect::kVllm, &back);
            ASSERT_TRUE(r.error.ok()) << r.error.message << "\n" << cell;
            std::string again;
            table::AppendCellJson(back, row, &again);
            EXPECT_EQ(again, cell);
          }
        }
      }
    }
  }
}

TEST(SimDialect, IgnoredConstraintBecomesInvalidOutputNeverTypedValues) {
  auto vqa = *Constraint::FromSchemaFile(ExamplePath("vqa.json"));
  auto choice = *Constraint::FromChoices({"A", "B", "C", "D"});
  for (const auto& api : kApis) {
    SimFixture sim(api.api);
    ASSERT_TRUE(sim.ok());
    SendFn send = sim.Sender();
    for (const Constraint* c : {&vqa, &choice}) {
      for (Dialect d : api.ignored) {
        table::Column column(c->OutputType());
        for (int i = 0; i < 5; ++i) {
          auto body = send(sim.Body(*c, d, i));
          ASSERT_TRUE(body.ok()) << body.status().ToString();
          auto answer = ParseChatCompletion(*body);
          ASSERT_TRUE(answer.ok());
          auto r = c->ParseInto(answer->content, d, &column);
          EXPECT_EQ(r.error.kind, ErrorKind::kInvalidOutput)
              << api.api << " " << DialectName(d) << ": " << answer->content;
          EXPECT_TRUE(r.looks_unconstrained) << r.error.message;
        }
        EXPECT_EQ(column.length(), 0) << api.api << " " << DialectName(d);
      }
    }
  }
}

}  // namespace
}  // namespace structflow::schema
