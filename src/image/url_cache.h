// UrlCache: the bytes of image URLs fetched with --fetch-images, by URL, so a job downloads
// each distinct URL once even when many rows use it (several questions about one picture).
// Before it, every row fetched its URL again: 40 downloads for 20 URLs asked about twice.
//
// Memory is bounded: entries are charged their size, the least recently used go first once the
// capacity is reached, and a body larger than the capacity is handed out but not kept. A URL
// another thread is fetching is waited for (single flight), so rows that share a URL and run at
// once still download it once. Failures are not kept: the rows waiting on a failed fetch get its
// error, and the next row fetches again (a passing network error heals).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/status.h"

namespace structflow::image {

// Raw image bytes are much smaller than the prepared data URLs PreparedCache holds, and rows
// that share a URL are usually near each other: 32 MB keeps dozens of photos.
inline constexpr size_t kDefaultUrlCacheBytes = size_t{32} << 20;

class UrlCache {
 public:
  explicit UrlCache(size_t capacity_bytes = kDefaultUrlCacheBytes);
  UrlCache(const UrlCache&) = delete;
  UrlCache& operator=(const UrlCache&) = delete;

  // Fills *out with the body of `url`: downloads it into *out and returns Status::OK().
  using Fetch = std::function<Status(std::string* out)>;

  // The bytes at `url`: kept from an earlier fetch, from the fetch another thread has in flight,
  // or from `fetch` run here, in the calling thread.
  Result<std::shared_ptr<const std::string>> Get(std::string_view url, const Fetch& fetch);

  struct Stats {
    uint64_t fetched = 0;  // fetches run (failures included)
    uint64_t reused = 0;   // answers without a fetch of their own
    size_t bytes = 0;      // bodies held now
    size_t entries = 0;
  };
  Stats stats() const;

 private:
  struct Entry {
    bool ready = false;
    Status status;
    std::shared_ptr<const std::string> bytes;
    std::list<std::string>::iterator lru_pos;  // valid while in_lru
    bool in_lru = false;
  };
  void EvictLocked();

  const size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::unordered_map<std::string, std::shared_ptr<Entry>> entries_;
  std::list<std::string> lru_;  // kept entries, most recently used first
  size_t bytes_ = 0;
  uint64_t fetched_ = 0;
  uint64_t reused_ = 0;
};

}  // namespace structflow::image
