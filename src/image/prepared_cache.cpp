#include "image/prepared_cache.h"

#include <sys/stat.h>
#include <xxhash.h>

#include "common/base64.h"

namespace structflow::image {

std::string DataUrl(const PreparedImage& image) {
  std::string_view mime = image.mime();
  std::string url;
  url.resize(5 + mime.size() + 8 + Base64EncodedSize(image.bytes().size()));
  char* p = url.data();
  auto put = [&p](std::string_view s) {
    s.copy(p, s.size());
    p += s.size();
  };
  put("data:");
  put(mime);
  put(";base64,");
  Base64EncodeTo(image.bytes(), p);
  return url;
}

PreparedCache::PreparedCache(size_t capacity_bytes, ImagePolicy policy)
    : capacity_(capacity_bytes), policy_(policy) {}

PreparedCache::Key PreparedCache::KeyOf(std::string_view input) {
  XXH128_hash_t h = XXH3_128bits(input.data(), input.size());
  return Key{h.low64, h.high64, input.size()};
}

uint64_t PreparedCache::ContentHash(std::string_view input) { return Fold(KeyOf(input)); }

std::optional<PreparedCache::FileStamp> PreparedCache::Stamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  return FileStamp{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                   static_cast<int64_t>(st.st_size),
                   static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec};
}

std::shared_ptr<const std::string> PreparedCache::FindFile(const std::string& path,
                                                           const FileStamp& stamp,
                                                           uint64_t* content_hash) {
  std::lock_guard lock(mu_);
  auto f = files_.find(path);
  if (f == files_.end() || !(f->second.first == stamp)) return nullptr;
  auto it = entries_.find(f->second.second);
  if (it == entries_.end() || !it->second->ready || !it->second->url) return nullptr;
  Entry& e = *it->second;
  ++reused_;
  if (e.in_lru) lru_.splice(lru_.begin(), lru_, e.lru_pos);
  if (content_hash != nullptr) *content_hash = Fold(it->first);
  return e.url;
}

Result<std::shared_ptr<const std::string>> PreparedCache::DataUrlFor(std::string_view input,
                                                                     const std::string& path,
                                                                     const FileStamp& stamp,
                                                                     uint64_t* content_hash) {
  const Key key = KeyOf(input);
  if (content_hash != nullptr) *content_hash = Fold(key);
  {
    std::lock_guard lock(mu_);
    if (files_.size() >= 4 * entries_.size() + 4096) files_.clear();
    files_.insert_or_assign(path, std::make_pair(stamp, key));
  }
  return Get(input, key);
}

Result<std::shared_ptr<const std::string>> PreparedCache::DataUrlFor(std::string_view input,
                                                                     uint64_t* content_hash) {
  const Key key = KeyOf(input);
  if (content_hash != nullptr) *content_hash = Fold(key);
  return Get(input, key);
}

Result<std::shared_ptr<const std::string>> PreparedCache::Get(std::string_view input,
                                                              const Key& key) {
  std::unique_lock lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    std::shared_ptr<Entry> e = it->second;  // stays alive if evicted while we wait
    ready_.wait(lock, [&] { return e->ready; });
    ++reused_;
    if (e->in_lru) lru_.splice(lru_.begin(), lru_, e->lru_pos);
    if (!e->status.ok()) return e->status;
    return e->url;
  }
  auto e = std::make_shared<Entry>();
  entries_.emplace(key, e);
  ++prepared_;
  lock.unlock();

  // Prepare outside the lock: other images go on being served and prepared meanwhile.
  Status status;
  std::shared_ptr<const std::string> url;
  auto prepared = Prepare(input, policy_);
  if (prepared.ok()) {
    url = std::make_shared<const std::string>(DataUrl(*prepared));
  } else {
    status = prepared.status();
  }

  lock.lock();
  e->status = status;
  e->url = url;
  e->ready = true;
  e->charge = (url ? url->size() : status.message().size()) + sizeof(Entry) + 64;
  if (e->charge <= capacity_) {
    lru_.push_front(key);
    e->lru_pos = lru_.begin();
    e->in_lru = true;
    bytes_ += e->charge;
    EvictLocked();
  } else {
    entries_.erase(key);  // too big to keep; waiters already hold the entry
  }
  lock.unlock();
  ready_.notify_all();
  if (!status.ok()) return status;
  return url;
}

void PreparedCache::EvictLocked() {
  while (bytes_ > capacity_ && !lru_.empty()) {
    auto it = entries_.find(lru_.back());
    bytes_ -= it->second->charge;
    it->second->in_lru = false;
    entries_.erase(it);
    lru_.pop_back();
  }
}

PreparedCache::Stats PreparedCache::stats() const {
  std::lock_guard lock(mu_);
  return Stats{prepared_, reused_, bytes_, lru_.size()};
}

}  // namespace structflow::image
