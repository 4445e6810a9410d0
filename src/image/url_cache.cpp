#include "image/url_cache.h"

namespace structflow::image {

UrlCache::UrlCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}

Result<std::shared_ptr<const std::string>> UrlCache::Get(std::string_view url, const Fetch& fetch) {
  std::string key(url);
  std::shared_ptr<Entry> entry;
  {
    std::unique_lock lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      entry = it->second;
      ++reused_;  // counted on asking, so a waiter shows before the fetch it waits on ends
      ready_.wait(lock, [&] { return entry->ready; });
      if (!entry->status.ok()) return entry->status;
      if (entry->in_lru) lru_.splice(lru_.begin(), lru_, entry->lru_pos);
      return entry->bytes;
    }
    entry = std::make_shared<Entry>();
    entries_.emplace(key, entry);
    ++fetched_;
  }
  // The download runs unlocked: other URLs go on; this one's waiters sleep on ready_.
  auto body = std::make_shared<std::string>();
  Status st = fetch(body.get());
  {
    std::lock_guard lock(mu_);
    entry->ready = true;
    entry->status = st;
    if (st.ok()) entry->bytes = body;
    if (st.ok() && body->size() <= capacity_) {
      lru_.push_front(key);
      entry->lru_pos = lru_.begin();
      entry->in_lru = true;
      bytes_ += body->size();
      EvictLocked();
    } else {
      entries_.erase(key);  // waiters hold the entry; the next Get fetches again
    }
  }
  ready_.notify_all();
  if (!st.ok()) return st;
  return std::shared_ptr<const std::string>(std::move(body));
}

void UrlCache::EvictLocked() {
  while (bytes_ > capacity_ && !lru_.empty()) {
    auto it = entries_.find(lru_.back());
    bytes_ -= it->second->bytes->size();
    it->second->in_lru = false;
    entries_.erase(it);
    lru_.pop_back();
  }
}

UrlCache::Stats UrlCache::stats() const {
  std::lock_guard lock(mu_);
  return Stats{fetched_, reused_, bytes_, lru_.size()};
}

}  // namespace structflow::image
