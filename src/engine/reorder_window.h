// ReorderWindow: the request pass's bounded look-ahead that sends rows sharing an image back to
// back. A server's prefix cache (vLLM's hashed blocks, SGLang's radix tree) reuses an image's
// computed tokens only while they are still cached, and with several replicas only on the one
// that computed them; rows asked about one image in a row are what both need. An input grouped
// by image passes through in its own order; an input that is not is regrouped within the window.
//
// The window holds at most `capacity` items. Once full, each push moves out the oldest item's
// group: every held item with the oldest item's key, in arrival order. Key 0 (a row without an
// image) is a group of one. So an item waits at most until `capacity` later items have arrived,
// and memory is bounded by the window. The order of sending is all it changes: the output pass
// walks the input in its order and joins the row store by row id (engine/row_walk.h).
//
// Thread-safety: one thread drives a ReorderWindow.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <unordered_map>
#include <utility>
#include <vector>

namespace structflow::engine {

template <typename T>
class ReorderWindow {
 public:
  // capacity 0 or 1: items pass straight through.
  explicit ReorderWindow(size_t capacity) : capacity_(capacity) {}

  // Adds an item; appends what leaves the window to *out.
  void Push(uint64_t key, T item, std::vector<T>* out) {
    if (capacity_ <= 1) {
      out->push_back(std::move(item));
      return;
    }
    held_.emplace_back(key, std::move(item));
    if (key != 0) ++counts_[key];
    while (held_.size() >= capacity_) EmitOldestGroup(out);
  }

  // Moves every held item out, group by group in the order of each group's oldest item.
  void Flush(std::vector<T>* out) {
    while (!held_.empty()) EmitOldestGroup(out);
  }

  size_t size() const { return held_.size(); }

 private:
  void EmitOldestGroup(std::vector<T>* out) {
    const uint64_t key = held_.front().first;
    out->push_back(std::move(held_.front().second));
    held_.pop_front();
    if (key == 0) return;
    auto it = counts_.find(key);
    size_t left = --it->second;
    if (left == 0) {
      counts_.erase(it);
      return;
    }
    // The rest of the group, in arrival order; the others keep theirs.
    auto keep = held_.begin();
    for (auto i = held_.begin(); i != held_.end(); ++i) {
      if (left > 0 && i->first == key) {
        out->push_back(std::move(i->second));
        --left;
      } else {
        if (keep != i) *keep = std::move(*i);
        ++keep;
      }
    }
    held_.erase(keep, held_.end());
    counts_.erase(it);
  }

  size_t capacity_;
  std::deque<std::pair<uint64_t, T>> held_;
  std::unordered_map<uint64_t, size_t> counts_;  // held items by key (key 0 not counted)
};

}  // namespace structflow::engine
