#include "sim/prefix_cache.h"

#include <algorithm>
#include <list>
#include <mutex>
#include <queue>
#include <unordered_map>

#include "sim/rng.h"

namespace structflow::sim {
namespace {

constexpr uint64_t kTemplateSeed = 0x7e3f1a2b9c4d5e6fULL;
constexpr uint64_t kTextSeed = 0x2545f4914f6cdd1dULL;
constexpr uint64_t kImageSeed = 0x9e3779b97f4a7c15ULL;
constexpr uint64_t kChainSeed = 0x6a09e667f3bcc909ULL;  // vLLM's NONE_HASH stand-in
// vLLM's placeholder token of every image position; the image itself goes in the extra keys.
constexpr uint64_t kImagePlaceholder = 0x696d616765ULL;

// vLLM: the hash of block `b`: the parent's hash, the block's token ids (image positions as the
// placeholder token) and an (mm_hash, offset - block start) extra key for each image that
// overlaps the block (kv_cache_utils.py hash_block_tokens, _gen_mm_extra_hash_keys).
uint64_t BlockHash(uint64_t parent, const PromptTokens& p, int b, int block_size) {
  const int start = b * block_size;
  const int end = start + block_size;
  uint64_t h = Mix64(parent, static_cast<uint64_t>(block_size));
  auto image_at = [&](int pos) {
    for (const ImageSpan& img : p.images) {
      if (pos >= img.offset && pos < img.offset + img.length) return true;
    }
    return false;
  };
  for (int i = start; i < end; ++i) h = Mix64(h, image_at(i) ? kImagePlaceholder : p.ids[i]);
  for (const ImageSpan& img : p.images) {
    if (img.offset < end && img.offset + img.length > start) {
      h = Mix64(Mix64(h, img.hash),
                static_cast<uint64_t>(static_cast<int64_t>(img.offset - start)));
    }
  }
  return h;
}

// No prefix caching (vLLM --no-enable-prefix-caching, SGLang --disable-radix-cache): nothing
// is looked up, so nothing is counted either.
class NoCache final : public PrefixCache {
 public:
  Lease Admit(const PromptTokens&, int) override { return Lease(); }
  PrefixCacheStats stats() const override { return {}; }

 protected:
  void Free(std::vector<int64_t>&) override {}
};

class VllmBlockCache final : public PrefixCache {
 public:
  explicit VllmBlockCache(const PrefixCacheOptions& o)
      : block_size_(std::max(1, o.block_size)),
        blocks_(static_cast<size_t>(std::max<int64_t>(1, o.capacity_tokens / block_size_))) {
    // The free queue starts ordered by block id.
    for (size_t i = 0; i < blocks_.size(); ++i) {
      blocks_[i].free_pos = free_.insert(free_.end(), static_cast<int64_t>(i));
      blocks_[i].free = true;
    }
  }

  Lease Admit(const PromptTokens& p, int decode_tokens) override {
    const int n = static_cast<int>(p.ids.size());
    const int full = n / block_size_;
    std::vector<uint64_t> hashes(static_cast<size_t>(full));
    uint64_t parent = kChainSeed;
    for (int b = 0; b < full; ++b) parent = hashes[b] = BlockHash(parent, p, b, block_size_);

    std::lock_guard lock(mu_);
    // kv_cache_manager.py get_computed_blocks: at most n - 1 tokens may hit, in whole blocks.
    const int max_hit_blocks = n > 0 ? (n - 1) / block_size_ : 0;
    int hit = 0;
    while (hit < std::min(full, max_hit_blocks) && by_hash_.count(hashes[hit]) != 0) ++hit;
    stats_.queries += static_cast<uint64_t>(n);
    stats_.hits += static_cast<uint64_t>(hit) * block_size_;

    std::vector<int64_t> held;
    for (int b = 0; b < hit; ++b) {
      int64_t id = by_hash_[hashes[b]];
      Touch(id);
      held.push_back(id);
    }
    const int64_t want =
        (static_cast<int64_t>(n) + std::max(0, decode_tokens) + block_size_ - 1) / block_size_ -
        hit;
    for (int64_t k = 0; k < want && !free_.empty(); ++k) {
      int64_t id = free_.front();
      free_.pop_front();
      Block& blk = blocks_[id];
      blk.free = false;
      if (blk.has_hash) {  // evicting a cached block (block_pool.py _maybe_evict_cached_block)
        auto it = by_hash_.find(blk.hash);
        if (it != by_hash_.end() && it->second == id) by_hash_.erase(it);
        blk.has_hash = false;
        ++stats_.evicted_blocks;
      }
      blk.ref = 1;
      held.push_back(id);
    }
    // The new full prompt blocks become reusable (cache_full_blocks); a hash already cached by
    // another block keeps that block.
    for (int b = hit; b < full && b < static_cast<int>(held.size()); ++b) {
      Block& blk = blocks_[held[b]];
      if (by_hash_.emplace(hashes[b], held[b]).second) {
        blk.hash = hashes[b];
        blk.has_hash = true;
      }
    }
    return MakeLease(this, std::move(held), hit * block_size_);
  }

  PrefixCacheStats stats() const override {
    std::lock_guard lock(mu_);
    PrefixCacheStats s = stats_;
    // block_pool.py get_usage: 1 - free blocks / all blocks (cached free blocks count as free).
    s.usage = 1.0 - static_cast<double>(free_.size()) / static_cast<double>(blocks_.size());
    return s;
  }

 protected:
  void Free(std::vector<int64_t>& held) override {
    std::lock_guard lock(mu_);
    // single_type_kv_cache_manager.py free: in reverse order, so a chain's tail blocks reach
    // the head of the free queue (evicted first) before its head blocks.
    for (auto it = held.rbegin(); it != held.rend(); ++it) {
      Block& blk = blocks_[*it];
      if (--blk.ref == 0) {
        blk.free_pos = free_.insert(free_.end(), *it);
        blk.free = true;
      }
    }
  }

 private:
  struct Block {
    int ref = 0;
    bool has_hash = false;
    bool free = false;
    uint64_t hash = 0;
    std::list<int64_t>::iterator free_pos;
  };

  // A cached block is reused: out of the free queue if nobody held it.
  void Touch(int64_t id) {
    Block& blk = blocks_[id];
    if (blk.free) {
      free_.erase(blk.free_pos);
      blk.free = false;
    }
    ++blk.ref;
  }

  const int block_size_;
  mutable std::mutex mu_;
  std::vector<Block> blocks_;
  std::list<int64_t> free_;  // LRU at the front
  std::unordered_map<uint64_t, int64_t> by_hash_;
  PrefixCacheStats stats_;
};

class SglangRadixCache final : public PrefixCache {
 public:
  explicit SglangRadixCache(const PrefixCacheOptions& o)
      : page_(std::max(1, o.block_size)), capacity_(std::max<int64_t>(1, o.capacity_tokens)) {
    root_.lock = 1;  // the root is never evicted
  }

  Lease Admit(const PromptTokens& p, int decode_tokens) override {
    const int n = static_cast<int>(p.ids.size());
    std::lock_guard lock(mu_);
    ++tick_;
    // schedule_batch.py adjust_max_prefix_ids: at most input length - 1; with pages, whole
    // pages only (radix_cache.py match_prefix truncates the key to a page multiple).
    const int limit = std::max(0, n - 1) / page_ * page_;
    const int matched = Match(p.ids, limit) / page_ * page_;
    stats_.queries += static_cast<uint64_t>(n);
    stats_.hits += static_cast<uint64_t>(matched);
    // The prompt joins the tree (cache_unfinished_req after prefill), whole pages of it.
    const int insert_len = n / page_ * page_;
    Node* node = Insert(p.ids, insert_len);
    for (Node* x = node; x != &root_; x = x->parent) ++x->lock;
    const int64_t extra = static_cast<int64_t>(n - insert_len) + std::max(0, decode_tokens);
    extra_ += extra;
    running_ += n + std::max(0, decode_tokens);
    EvictToFit();
    return MakeLease(this, {reinterpret_cast<int64_t>(node), extra, n + std::max(0, decode_tokens)},
                     matched);
  }

  PrefixCacheStats stats() const override {
    std::lock_guard lock(mu_);
    PrefixCacheStats s = stats_;
    s.usage = static_cast<double>(running_) / static_cast<double>(capacity_);
    return s;
  }

 protected:
  void Free(std::vector<int64_t>& held) override {
    std::lock_guard lock(mu_);
    ++tick_;
    Node* node = reinterpret_cast<Node*>(held[0]);
    for (Node* x = node; x != &root_; x = x->parent) {
      --x->lock;
      x->last_access = tick_;
    }
    extra_ -= held[1];
    running_ -= held[2];
  }

 private:
  struct Node {
    std::vector<uint64_t> key;
    Node* parent = nullptr;
    std::unordered_map<uint64_t, std::unique_ptr<Node>> children;
    int lock = 0;
    uint64_t last_access = 0;
  };

  // How many of node's key tokens equal ids[pos, end).
  static size_t Common(const Node& node, const std::vector<uint64_t>& ids, int pos, int end) {
    size_t m = 0;
    while (m < node.key.size() && pos + static_cast<int>(m) < end && node.key[m] == ids[pos + m]) {
      ++m;
    }
    return m;
  }

  // The longest cached prefix of ids[0, limit), in tokens (refreshing access times).
  int Match(const std::vector<uint64_t>& ids, int limit) {
    Node* node = &root_;
    int pos = 0;
    while (pos < limit) {
      auto it = node->children.find(ids[pos]);
      if (it == node->children.end()) break;
      Node* child = it->second.get();
      child->last_access = tick_;
      const size_t m = Common(*child, ids, pos, limit);
      pos += static_cast<int>(m);
      if (m < child->key.size()) break;
      node = child;
    }
    return pos;
  }

  // Splits `child` after `m` key tokens; the new upper node takes the lock count (radix_cache.py
  // _split_node) and is returned.
  Node* Split(Node* child, size_t m) {
    Node* parent = child->parent;
    auto upper = std::make_unique<Node>();
    upper->key.assign(child->key.begin(), child->key.begin() + static_cast<std::ptrdiff_t>(m));
    upper->parent = parent;
    upper->lock = child->lock;
    upper->last_access = child->last_access;
    std::unique_ptr<Node> lower = std::move(parent->children[child->key[0]]);
    lower->key.erase(lower->key.begin(), lower->key.begin() + static_cast<std::ptrdiff_t>(m));
    lower->parent = upper.get();
    Node* up = upper.get();
    up->children[lower->key[0]] = std::move(lower);
    parent->children[up->key[0]] = std::move(upper);
    return up;
  }

  // Inserts ids[0, len) and returns the node that ends it.
  Node* Insert(const std::vector<uint64_t>& ids, int len) {
    Node* node = &root_;
    int pos = 0;
    while (pos < len) {
      auto it = node->children.find(ids[pos]);
      if (it == node->children.end()) {
        auto leaf = std::make_unique<Node>();
        leaf->key.assign(ids.begin() + pos, ids.begin() + len);
        leaf->parent = node;
        leaf->last_access = tick_;
        tree_tokens_ += len - pos;
        Node* l = leaf.get();
        node->children[ids[pos]] = std::move(leaf);
        return l;
      }
      Node* child = it->second.get();
      child->last_access = tick_;
      const size_t m = Common(*child, ids, pos, len);
      if (m < child->key.size()) child = Split(child, m);
      pos += static_cast<int>(m);
      node = child;
    }
    return node;
  }

  // radix_cache.py evict: unlocked leaves, least recently used first, until the tree and the
  // running requests' other tokens fit the pool (or nothing more can go). SGLang evicts just
  // what the next batch needs; here each pass frees a sixteenth of the pool more, so the walk
  // over the tree is not repeated for every request once the pool is full.
  void EvictToFit() {
    if (tree_tokens_ + extra_ <= capacity_) return;
    const int64_t target = capacity_ - capacity_ / 16;
    auto older = [](const Node* a, const Node* b) { return a->last_access > b->last_access; };
    std::priority_queue<Node*, std::vector<Node*>, decltype(older)> leaves(older);
    std::vector<Node*> stack{&root_};
    while (!stack.empty()) {
      Node* x = stack.back();
      stack.pop_back();
      if (x != &root_ && x->children.empty() && x->lock == 0) leaves.push(x);
      for (auto& [k, c] : x->children) stack.push_back(c.get());
    }
    while (tree_tokens_ + extra_ > target && !leaves.empty()) {
      Node* x = leaves.top();
      leaves.pop();
      Node* parent = x->parent;
      tree_tokens_ -= static_cast<int64_t>(x->key.size());
      stats_.evicted_blocks += x->key.size();
      parent->children.erase(x->key[0]);
      if (parent != &root_ && parent->children.empty() && parent->lock == 0) leaves.push(parent);
    }
  }

  const int page_;
  const int64_t capacity_;
  mutable std::mutex mu_;
  Node root_;
  int64_t tree_tokens_ = 0;  // tokens held by the tree
  int64_t extra_ = 0;        // tokens running requests hold outside it (answers, page tails)
  int64_t running_ = 0;      // tokens of running requests
  uint64_t tick_ = 0;
  PrefixCacheStats stats_;
};

}  // namespace

void PromptTokenizer::Message() {
  pending_.push_back(Pending{text_.size(), false, static_cast<uint64_t>(messages_++)});
}

void PromptTokenizer::Text(std::string_view text) { text_.append(text); }

void PromptTokenizer::Image(std::string_view content) {
  pending_.push_back(Pending{text_.size(), true, Hash64(content, kImageSeed)});
}

PromptTokens PromptTokenizer::Finish() {
  PromptTokens out;
  const size_t bpt = static_cast<size_t>(bytes_per_token_);
  const size_t text_tokens = (text_.size() + bpt - 1) / bpt;
  out.ids.reserve(text_tokens + pending_.size() * static_cast<size_t>(kTokensPerMessage) +
                  pending_.size() * static_cast<size_t>(std::max(0, tokens_per_image_)));
  size_t next = 0;
  for (size_t k = 0; k <= text_tokens; ++k) {
    // A template header or an image sits before the first text token that starts at or after
    // its position in the text.
    while (next < pending_.size() && (pending_[next].text_offset + bpt - 1) / bpt <= k) {
      const Pending& p = pending_[next++];
      if (p.image) {
        out.images.push_back(
            ImageSpan{static_cast<int>(out.ids.size()), tokens_per_image_, p.hash});
        out.ids.insert(out.ids.end(), static_cast<size_t>(std::max(0, tokens_per_image_)),
                       p.hash % (uint64_t{1} << 30));
      } else {
        for (int t = 0; t < kTokensPerMessage; ++t) {
          out.ids.push_back(Mix64(kTemplateSeed, static_cast<uint64_t>(t)));
        }
      }
    }
    if (k < text_tokens) {
      out.ids.push_back(Hash64(std::string_view(text_).substr(k * bpt, bpt), kTextSeed));
    }
  }
  return out;
}

PrefixCache::Lease& PrefixCache::Lease::operator=(Lease&& other) noexcept {
  if (this != &other) {
    Release();
    cache_ = other.cache_;
    held_ = std::move(other.held_);
    cached_tokens_ = other.cached_tokens_;
    other.cache_ = nullptr;
    other.held_.clear();
  }
  return *this;
}

void PrefixCache::Lease::Release() {
  if (cache_ != nullptr) cache_->Free(held_);
  cache_ = nullptr;
  held_.clear();
}

std::unique_ptr<PrefixCache> PrefixCache::Make(const PrefixCacheOptions& options) {
  switch (options.kind) {
    case CacheKind::kVllmBlocks:
      return std::make_unique<VllmBlockCache>(options);
    case CacheKind::kSglangRadix:
      return std::make_unique<SglangRadixCache>(options);
    default:
      return std::make_unique<NoCache>();
  }
}

}  // namespace structflow::sim
