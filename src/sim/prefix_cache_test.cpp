#include "sim/prefix_cache.h"

#include <gtest/gtest.h>

#include <string>

namespace structflow::sim {
namespace {

constexpr int kBpt = 4;           // bytes per text token
constexpr int kImageTokens = 64;  // tokens per image

// One user message: [4 template][role "user" = 1 token][image?][text], or text first.
PromptTokens Prompt(std::string_view image, std::string_view text, bool image_first = true) {
  PromptTokenizer t(kBpt, kImageTokens);
  t.Message();
  t.Text("user");
  if (image_first && !image.empty()) t.Image(image);
  t.Text(text);
  if (!image_first && !image.empty()) t.Image(image);
  return t.Finish();
}

PrefixCacheOptions Vllm(int64_t capacity_tokens = 1 << 20) {
  return {CacheKind::kVllmBlocks, 16, capacity_tokens};
}

TEST(PromptTokenizer, CountsAsThePromptTokensDoAndPlacesTheImage) {
  // 4 template + ceil((4 + 10) / 4) = 4 text + 64 image tokens.
  PromptTokens p = Prompt("img-A", "0123456789");
  EXPECT_EQ(p.ids.size(), 4u + 4u + 64u);
  ASSERT_EQ(p.images.size(), 1u);
  EXPECT_EQ(p.images[0].offset, 5);  // after the template and "user"
  EXPECT_EQ(p.images[0].length, 64);
  // Text first: the image comes after the text.
  PromptTokens q = Prompt("img-A", "0123456789", /*image_first=*/false);
  EXPECT_EQ(q.ids.size(), p.ids.size());
  EXPECT_EQ(q.images[0].offset, 8);
  // The same text gives the same leading tokens; another image, other image tokens.
  EXPECT_EQ(Prompt("img-B", "0123456789").ids[4], p.ids[4]);
  EXPECT_NE(Prompt("img-B", "0123456789").ids[5], p.ids[5]);
}

TEST(VllmPrefixCache, SharedImagePrefixHitsWholeBlocks) {
  auto cache = PrefixCache::Make(Vllm());
  // 5 + 64 = 69 shared tokens, then the question: "Q1? xxxx" (2 tokens each).
  PromptTokens a = Prompt("img-A", "Q1? xxxx");
  PromptTokens b = Prompt("img-A", "Q2? yyyy");
  ASSERT_EQ(a.ids.size(), 71u);
  auto la = cache->Admit(a, 1);
  EXPECT_EQ(la.cached_tokens(), 0);
  la.Release();
  auto lb = cache->Admit(b, 1);
  // 69 shared tokens: 4 full blocks of 16 = 64 cached; block 5 (tokens 64-79) is not full.
  EXPECT_EQ(lb.cached_tokens(), 64);
  PrefixCacheStats s = cache->stats();
  EXPECT_EQ(s.queries, 142u);
  EXPECT_EQ(s.hits, 64u);
}

TEST(VllmPrefixCache, AnotherImageSharesOnlyTheBlocksBeforeIt) {
  auto cache = PrefixCache::Make(Vllm());
  // Text first: 4 template + 1 role + 40 text tokens = 45 tokens before the image.
  const std::string question(160, 'q');
  auto la = cache->Admit(Prompt("img-A", question, false), 1);
  // Same text, another image: blocks 0-1 (tokens 0-31) are text only and match; block 2
  // (32-47) holds the first image tokens, whose extra key differs.
  auto lb = cache->Admit(Prompt("img-B", question, false), 1);
  EXPECT_EQ(lb.cached_tokens(), 32);
  // Image first: a different image right after the template shares nothing (block 0 holds
  // image tokens from position 5).
  auto lc = cache->Admit(Prompt("img-C", "same"), 1);
  auto ld = cache->Admit(Prompt("img-D", "same"), 1);
  EXPECT_EQ(ld.cached_tokens(), 0);
}

TEST(VllmPrefixCache, IdenticalPromptRecomputesTheLastBlock) {
  auto cache = PrefixCache::Make(Vllm());
  // Exactly 4 blocks: 4 template tokens + (4 + 236) / 4 text tokens = 64.
  PromptTokens p = Prompt("", std::string(236, 'x'));
  ASSERT_EQ(p.ids.size(), 64u);
  { auto l = cache->Admit(p, 1); }
  // At most 63 tokens may hit: 3 whole blocks, the 4th is computed again.
  auto l = cache->Admit(p, 1);
  EXPECT_EQ(l.cached_tokens(), 48);
}

TEST(VllmPrefixCache, EvictsTheLeastRecentlyUsedFreeBlocks) {
  // 8 blocks of 16 = 128 tokens. Each prompt is 71 tokens (+1 answer token): 5 blocks, the
  // first 4 full (hashed), the 5th partial.
  auto cache = PrefixCache::Make(Vllm(128));
  // A takes blocks 0-4 and frees them in reverse: free queue 5 6 7 | 4 3 2 1 0.
  { auto l = cache->Admit(Prompt("img-A", "Q1? xxxx"), 1); }
  // B takes 5 6 7 4 3: block 3 held A's 4th full block, which is evicted.
  { auto l = cache->Admit(Prompt("img-B", "Q1? xxxx"), 1); }
  EXPECT_EQ(cache->stats().evicted_blocks, 1u);
  // A's chain now breaks after its 3rd block: 48 tokens cached, not 64.
  EXPECT_EQ(cache->Admit(Prompt("img-A", "Q2? yyyy"), 1).cached_tokens(), 48);
  // With room for both, both stay cached.
  auto big = PrefixCache::Make(Vllm(1024));
  { auto l = big->Admit(Prompt("img-A", "Q1? xxxx"), 1); }
  { auto l = big->Admit(Prompt("img-B", "Q1? xxxx"), 1); }
  EXPECT_EQ(big->Admit(Prompt("img-A", "Q2? yyyy"), 1).cached_tokens(), 64);
  EXPECT_EQ(big->Admit(Prompt("img-B", "Q2? yyyy"), 1).cached_tokens(), 64);
  EXPECT_EQ(big->stats().evicted_blocks, 0u);
}

TEST(VllmPrefixCache, BlocksInUseAreNeverEvicted) {
  // Room for one request only: while A runs, B cannot take A's blocks, so A's prefix survives.
  auto cache = PrefixCache::Make(Vllm(80));
  auto a = cache->Admit(Prompt("img-A", "Q1? xxxx"), 1);
  auto b = cache->Admit(Prompt("img-B", "Q1? xxxx"), 1);  // no free block left: runs uncached
  EXPECT_EQ(b.cached_tokens(), 0);
  b.Release();
  a.Release();
  EXPECT_EQ(cache->Admit(Prompt("img-A", "Q2? yyyy"), 1).cached_tokens(), 64);
  EXPECT_DOUBLE_EQ(cache->stats().usage, 0.0);
}

TEST(SglangRadixCache, MatchesTokenByToken) {
  auto cache = PrefixCache::Make({CacheKind::kSglangRadix, 1, 1 << 20});
  auto la = cache->Admit(Prompt("img-A", "Q1? xxxx"), 1);
  // 69 shared tokens (template, role, image), then "Q1? " vs "Q2? " differ at once.
  auto lb = cache->Admit(Prompt("img-A", "Q2? yyyy"), 1);
  EXPECT_EQ(lb.cached_tokens(), 69);
  // A partial match inside the text: "Q1? xxxx" vs "Q1? zzzz" share one more token.
  auto lc = cache->Admit(Prompt("img-A", "Q1? zzzz"), 1);
  EXPECT_EQ(lc.cached_tokens(), 70);
  // The same prompt again: all but the last token.
  auto ld = cache->Admit(Prompt("img-A", "Q1? xxxx"), 1);
  EXPECT_EQ(ld.cached_tokens(), 70);
  // Another image stops the match at its first token.
  EXPECT_EQ(cache->Admit(Prompt("img-B", "Q1? xxxx"), 1).cached_tokens(), 5);
  // With pages of 16 the same prompts match whole pages only.
  auto paged = PrefixCache::Make({CacheKind::kSglangRadix, 16, 1 << 20});
  { auto l = paged->Admit(Prompt("img-A", "Q1? xxxx"), 1); }
  EXPECT_EQ(paged->Admit(Prompt("img-A", "Q2? yyyy"), 1).cached_tokens(), 64);
}

TEST(SglangRadixCache, EvictsUnlockedLeavesLeastRecentlyUsedFirst) {
  // 150 tokens: two 71-token prompts (+1 answer token each) fit, a third does not.
  auto cache = PrefixCache::Make({CacheKind::kSglangRadix, 1, 150});
  { auto l = cache->Admit(Prompt("img-A", "Q1? xxxx"), 1); }
  { auto l = cache->Admit(Prompt("img-B", "Q1? xxxx"), 1); }
  // A was used least recently: C's arrival evicts A's branch, not B's.
  { auto l = cache->Admit(Prompt("img-C", "Q1? xxxx"), 1); }
  EXPECT_EQ(cache->Admit(Prompt("img-B", "Q2? yyyy"), 1).cached_tokens(), 69);
  EXPECT_EQ(cache->Admit(Prompt("img-A", "Q2? yyyy"), 1).cached_tokens(), 5);
  EXPECT_GT(cache->stats().evicted_blocks, 0u);
}

TEST(PrefixCache, OffCachesNothing) {
  auto cache = PrefixCache::Make({});
  { auto l = cache->Admit(Prompt("img-A", "Q1? xxxx"), 1); }
  EXPECT_EQ(cache->Admit(Prompt("img-A", "Q2? yyyy"), 1).cached_tokens(), 0);
  EXPECT_EQ(cache->stats().queries, 0u);
}

}  // namespace
}  // namespace structflow::sim
