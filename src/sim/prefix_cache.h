// Prefix caching as the servers do it, so the simulator charges prefill only for the prompt
// tokens a real server would compute, and reports what it reuses the way that server does.
//
// The simulator has no tokenizer: a prompt becomes a sequence of pseudo-tokens (PromptTokens)
// whose count is exactly the simulator's prompt_tokens: each message opens with
// kTokensPerMessage template tokens, text is cut into --bytes-per-token byte pieces (a token id
// is a hash of its bytes, so identical leading text gives identical leading tokens, as BPE
// does), and an image is --tokens-per-image placeholder tokens tagged with a hash of the image.
//
// Two models, read from the servers' source:
//   vLLM (v1, vllm/v1/core/kv_cache_utils.py, kv_cache_manager.py, block_pool.py; main of
//   late 2025): automatic prefix caching over fixed-size blocks (--block-size, 16 by default).
//   Only full blocks are hashed; a block's hash chains its parent's hash, its token ids and
//   "extra keys", which for an image overlapping the block are (mm_hash, image offset - block
//   start) (_gen_mm_extra_hash_keys), so the same tokens next to another image never match.
//   A lookup takes the longest run of cached leading blocks, capped at prompt length - 1 (the
//   last token is always computed to get logits). The pool holds num_gpu_blocks; blocks a
//   running request uses have ref_cnt > 0; freed blocks go to the tail of the free queue in
//   reverse order (a chain's tail is evicted first) and keep their hash until the block is
//   allocated again (LRU eviction from the head, FreeKVCacheBlockQueue).
//   SGLang (python/sglang/srt/mem_cache/radix_cache.py, managers/schedule_batch.py): a radix
//   tree over token ids, matched token by token (--page-size 1 by default; larger pages match
//   whole pages only), capped at input length - 1 (Req.adjust_max_prefix_ids). Image tokens
//   carry the image's hash as their id (MultimodalDataItem.pad_value), so another image stops
//   the match at its first token. Capacity is --max-total-tokens; unlocked leaves are evicted
//   least recently used first.
// Not modelled: llama.cpp's and Ollama's per-slot prompt reuse (they get no cache here), KV
// admission (a request that does not fit still runs: the simulator's slots are its admission),
// and blocks of generated tokens (our answers are a few tokens and are never shared).
//
// Thread-safety: PrefixCache is safe to call from any thread (one mutex); a Lease must be
// released (or destroyed) once, from any thread, while its cache is alive.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace structflow::sim {

// The template tokens every message costs (the simulator's prompt_tokens counts them too).
inline constexpr int kTokensPerMessage = 4;

struct ImageSpan {
  int offset = 0;  // first token of the image in the prompt
  int length = 0;
  uint64_t hash = 0;  // of the image's content
};

struct PromptTokens {
  std::vector<uint64_t> ids;  // an image's tokens carry its hash (SGLang's pad_value)
  std::vector<ImageSpan> images;
};

// Builds PromptTokens piece by piece, in prompt order.
class PromptTokenizer {
 public:
  explicit PromptTokenizer(int bytes_per_token, int tokens_per_image)
      : bytes_per_token_(bytes_per_token < 1 ? 1 : bytes_per_token),
        tokens_per_image_(tokens_per_image) {}
  // A message's template tokens (before its role and content).
  void Message();
  void Text(std::string_view text);
  // `content` identifies the image (its data URL or URL): equal content, equal hash.
  void Image(std::string_view content);
  // The tokens; their count is ceil(text bytes / bytes_per_token) + kTokensPerMessage per
  // message + tokens_per_image per image, as PlanChat counts prompt_tokens.
  PromptTokens Finish();

 private:
  struct Pending {
    size_t text_offset;  // where in the text stream it sits
    bool image;
    uint64_t hash;
  };
  int bytes_per_token_;
  int tokens_per_image_;
  std::string text_;
  std::vector<Pending> pending_;
  int messages_ = 0;
};

enum class CacheKind { kNone, kVllmBlocks, kSglangRadix };

struct PrefixCacheOptions {
  CacheKind kind = CacheKind::kNone;
  // vLLM --block-size (16), SGLang --page-size (1).
  int block_size = 16;
  // KV capacity in tokens (vLLM: num_gpu_blocks * block_size; SGLang --max-total-tokens).
  int64_t capacity_tokens = 262144;
};

struct PrefixCacheStats {
  uint64_t queries = 0;         // prompt tokens looked up (vLLM's prefix_cache_queries)
  uint64_t hits = 0;            // of them, found cached (prefix_cache_hits; SGLang cached_tokens)
  uint64_t evicted_blocks = 0;  // blocks (vLLM) or tokens (SGLang) evicted to make room
  double usage = 0;             // share of the KV capacity in use by running requests
};

class PrefixCache {
 public:
  // What a running request holds; gives it back when released or destroyed.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&& other) noexcept { *this = std::move(other); }
    Lease& operator=(Lease&& other) noexcept;
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    ~Lease() { Release(); }
    void Release();
    int cached_tokens() const { return cached_tokens_; }

   private:
    friend class PrefixCache;
    PrefixCache* cache_ = nullptr;
    std::vector<int64_t> held_;  // vLLM: block ids; SGLang: the locked node, extra tokens
    int cached_tokens_ = 0;
  };

  virtual ~PrefixCache() = default;
  // kNone gives a cache that never hits (every token computed) but still counts queries.
  static std::unique_ptr<PrefixCache> Make(const PrefixCacheOptions& options);

  // A request starts: looks its prompt up (the cached part is not computed again), takes KV
  // room for prompt + `decode_tokens`, and makes its prompt reusable by later requests.
  virtual Lease Admit(const PromptTokens& prompt, int decode_tokens) = 0;
  virtual PrefixCacheStats stats() const = 0;

 protected:
  virtual void Free(std::vector<int64_t>& held) = 0;
  static Lease MakeLease(PrefixCache* cache, std::vector<int64_t> held, int cached) {
    Lease lease;
    lease.cache_ = cache;
    lease.held_ = std::move(held);
    lease.cached_tokens_ = cached;
    return lease;
  }
};

}  // namespace structflow::sim
