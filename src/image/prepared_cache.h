// PreparedCache: prepared images kept as data URLs, keyed by the content of their source bytes,
// so a dataset that asks several questions about the same image (AI2D: 7,462 questions on 2,434
// diagrams; one image per page of a document, asked field by field) decodes, resizes, encodes and
// base64-encodes each image once. The key is a 128-bit XXH3 hash of the bytes plus their length,
// so the same image under two paths, or embedded in many Parquet rows, is one entry.
//
// Memory is bounded: entries are charged their data URL's size and the least recently used go
// first once the capacity is reached. Requests for an image another thread is preparing wait for
// that result (single flight) instead of preparing it twice. Errors are kept too: a corrupt
// image fails every row that uses it with the same message, decoded once.
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "common/status.h"
#include "image/image.h"

namespace structflow::image {

// "data:image/jpeg;base64,..." for a prepared image.
std::string DataUrl(const PreparedImage& image);

class PreparedCache {
 public:
  // `capacity_bytes` bounds the data URLs held (an image bigger than that is prepared but not
  // kept); `policy` is how every image of this cache is prepared.
  PreparedCache(size_t capacity_bytes, ImagePolicy policy);
  PreparedCache(const PreparedCache&) = delete;
  PreparedCache& operator=(const PreparedCache&) = delete;

  // The data URL of `input` prepared under the policy, or Prepare's error for it.
  Result<std::shared_ptr<const std::string>> DataUrlFor(std::string_view input,
                                                        uint64_t* content_hash = nullptr);

  // Files: what identifies a file's content without reading it (a rewritten file changes it).
  struct FileStamp {
    uint64_t device = 0;
    uint64_t inode = 0;
    int64_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };
  // The stamp of the file at `path`; nothing when it cannot be stat'ed (the read will say why).
  static std::optional<FileStamp> Stamp(const std::string& path);
  // The data URL of the file at `path` when its bytes, with this stamp, were prepared before and
  // are still held: no read, no hash. Null otherwise (read it and call DataUrlFor with the path).
  // With `content_hash`, also the hash of its bytes (ContentHash's value).
  std::shared_ptr<const std::string> FindFile(const std::string& path, const FileStamp& stamp,
                                              uint64_t* content_hash = nullptr);
  // DataUrlFor(input), remembering that the file at `path` with `stamp` holds `input`.
  Result<std::shared_ptr<const std::string>> DataUrlFor(std::string_view input,
                                                        const std::string& path,
                                                        const FileStamp& stamp,
                                                        uint64_t* content_hash = nullptr);
  // A 64-bit hash of an image's source bytes: the cache's key folded (equal bytes, equal hash).
  // The engine's endpoint affinity keys rows by it.
  static uint64_t ContentHash(std::string_view input);

  struct Stats {
    uint64_t prepared = 0;  // images prepared (misses), errors included
    uint64_t reused = 0;    // answers from the cache (hits, or a wait on another thread's work)
    size_t bytes = 0;       // data URLs held now
    size_t entries = 0;
  };
  Stats stats() const;
  const ImagePolicy& policy() const { return policy_; }

 private:
  struct Key {
    uint64_t lo = 0;
    uint64_t hi = 0;
    size_t size = 0;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    size_t operator()(const Key& k) const { return k.lo ^ (k.hi * 0x9e3779b97f4a7c15ull); }
  };
  struct Entry {
    bool ready = false;
    Status status;
    std::shared_ptr<const std::string> url;
    size_t charge = 0;                 // counted in bytes_ once ready and kept
    std::list<Key>::iterator lru_pos;  // valid while in lru_
    bool in_lru = false;
  };

  static Key KeyOf(std::string_view input);
  static uint64_t Fold(const Key& k) { return k.lo ^ (k.hi * 0x9e3779b97f4a7c15ull) ^ k.size; }
  Result<std::shared_ptr<const std::string>> Get(std::string_view input, const Key& key);
  void EvictLocked();

  const size_t capacity_;
  const ImagePolicy policy_;
  mutable std::mutex mu_;
  std::condition_variable ready_;
  std::unordered_map<Key, std::shared_ptr<Entry>, KeyHash> entries_;
  std::list<Key> lru_;  // ready entries, most recently used first
  // path -> (stamp, key) of files read before; cleared when it outgrows the entries by far.
  std::unordered_map<std::string, std::pair<FileStamp, Key>> files_;
  size_t bytes_ = 0;
  uint64_t prepared_ = 0;
  uint64_t reused_ = 0;
};

}  // namespace structflow::image
