#include "engine/quick_call.h"

#include <algorithm>

namespace structflow::engine {

void StopSource::Stop() {
  stopped_.store(true);
  std::lock_guard lock(mu_);
  for (client::Client* c : active_) c->Cancel();
  for (uint64_t g : groups_) shared_->StopGroup(g, /*abandon=*/true);
}

bool StopSource::RegisterGroup(uint64_t group) {
  std::lock_guard lock(mu_);
  if (stopped_.load()) return false;
  groups_.push_back(group);
  return true;
}

void StopSource::UnregisterGroup(uint64_t group) {
  std::lock_guard lock(mu_);
  groups_.erase(std::remove(groups_.begin(), groups_.end(), group), groups_.end());
}

bool StopSource::Register(client::Client* c) {
  std::lock_guard lock(mu_);
  if (stopped_.load()) return false;
  active_.push_back(c);
  return true;
}

void StopSource::Unregister(client::Client* c) {
  std::lock_guard lock(mu_);
  active_.erase(std::remove(active_.begin(), active_.end(), c), active_.end());
}

client::ClientOptions QuickOptions(const client::ClientOptions& options, double timeout_s,
                                   int attempts) {
  client::ClientOptions o = options;
  o.max_attempts = attempts;
  o.connect_timeout_s = std::min(o.connect_timeout_s, timeout_s);
  o.request_timeout_s = timeout_s;
  o.stall_timeout_s = timeout_s;
  o.row_deadline_s = timeout_s * attempts + 1;
  o.concurrency = 1;
  o.queue_capacity = 1;
  return o;
}

namespace {

// QuickCall through the engine's client: a side request in a group of its own, waited for.
Result<client::Completion> SharedCall(const client::ClientOptions& options, client::Request request,
                                      double timeout_s, StopSource* stop) {
  if (options.endpoints.empty()) return Status::InvalidArgument("no endpoint");
  client::Client* shared = stop->shared_client();
  const uint64_t group = stop->NextGroup();
  const uint64_t id = group << client::Client::kGroupShift;
  request.id = id;
  request.url = options.endpoints[0] + request.path;
  request.timeout_s = timeout_s;
  shared->OpenGroup(group);
  if (!stop->RegisterGroup(group)) {
    shared->CloseGroup(group);
    return Status::Cancelled("stopped");
  }
  std::vector<client::Completion> done;
  if (shared->Submit(std::move(request))) shared->NextGroupCompletions(group, &done, 1);
  stop->UnregisterGroup(group);
  shared->CloseGroup(group);
  if (stop->stopped()) return Status::Cancelled("stopped");
  if (done.empty() || done.front().id != id) {
    return Status::Cancelled("the engine's client stopped before " + options.endpoints[0] +
                             " answered");
  }
  return std::move(done.front());
}

}  // namespace

Result<client::Completion> QuickCall(const client::ClientOptions& options, client::Request request,
                                     double timeout_s, StopSource* stop) {
  if (stop && stop->stopped()) return Status::Cancelled("stopped");
  if (stop && stop->shared_client() != nullptr) {
    return SharedCall(options, std::move(request), timeout_s, stop);
  }
  SF_ASSIGN_OR_RAISE(auto c, client::Client::Make(QuickOptions(options, timeout_s)));
  if (stop && !stop->Register(c.get())) return Status::Cancelled("stopped");
  const uint64_t id = request.id;
  bool sent = c->Submit(std::move(request));
  c->Close();
  std::optional<client::Completion> done = sent ? c->NextCompletion() : std::nullopt;
  if (stop) stop->Unregister(c.get());
  if (stop && stop->stopped()) return Status::Cancelled("stopped");
  if (!done || done->id != id) return Status::Internal("the client lost a request");
  return std::move(*done);
}

std::string ServerRoot(const std::string& endpoint) {
  std::string root = endpoint;
  while (!root.empty() && root.back() == '/') root.pop_back();
  if (root.size() >= 3 && root.compare(root.size() - 3, 3, "/v1") == 0)
    root.resize(root.size() - 3);
  return root;
}

Result<std::string> QuickGet(const client::ClientOptions& options, const std::string& path,
                             bool at_root, double timeout_s, StopSource* stop) {
  if (options.endpoints.empty()) return Status::InvalidArgument("no endpoint");
  client::ClientOptions o = options;
  o.endpoints = {at_root ? ServerRoot(options.endpoints[0]) : options.endpoints[0]};
  client::Request r;
  r.path = path;
  r.method = client::Method::kGet;
  SF_ASSIGN_OR_RAISE(client::Completion c, QuickCall(o, std::move(r), timeout_s, stop));
  if (c.ok()) return std::move(c.body);
  return Status::Unavailable("GET " + o.endpoints[0] + path +
                             " failed: " + client::DescribeError(c.error));
}

}  // namespace structflow::engine
