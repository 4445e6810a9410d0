// Fuzz target for the Parquet reader: each input is a whole file, read to the end through
// OpenParquetSource. Any Status is fine; a crash, hang or sanitizer report is a bug.
//
// Built two ways (see tests/parquet/CMakeLists.txt):
//  - with clang and -fsanitize=fuzzer: a libFuzzer target (coverage guided);
//  - otherwise (STRUCTFLOW_FUZZ_STANDALONE): a standalone driver that replays a corpus and then
//    mutates it at random for N seconds:
//      parquet_fuzz --seconds 60 --crash-dir DIR CORPUS_DIR_OR_FILE...
//    Before each run the input is saved to DIR/last-input, so after a crash it holds the input
//    that caused it (keep it under src/io/parquet/testdata/regress/).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "io/parquet/parquet.h"

namespace {

int MemFd() {
  static int fd = [] {
    int f = ::memfd_create("parquet_fuzz", MFD_CLOEXEC);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  return fd;
}

void RunOne(const uint8_t* data, size_t size) {
  int fd = MemFd();
  if (::ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  std::string path = "/proc/self/fd/" + std::to_string(fd);
  structflow::io::ReadOptions ro;
  ro.batch_rows = 50;
  // Half the inputs also exercise projection: only the last top-level column is read.
  structflow::table::Schema schema;
  int64_t rows = 0;
  if (size % 2 == 1 && structflow::io::parquet::ReadParquetSchema(path, &schema, &rows).ok() &&
      schema.fields.size() > 1) {
    ro.columns = {schema.fields.back().name};
  }
  auto src = structflow::io::parquet::OpenParquetSource({path}, ro);
  if (!src.ok()) return;
  for (int guard = 0; guard < 100000; ++guard) {
    auto b = (*src)->Next();
    if (!b.ok() || !b->has_value()) return;
    // Touch the assembled data so a bad offset shows up under the sanitizers.
    if (!(*b)->Validate().ok()) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  RunOne(data, size);
  return 0;
}

#ifdef STRUCTFLOW_FUZZ_STANDALONE
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <vector>

namespace {

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void Mutate(std::string* s, std::mt19937_64& rng, const std::vector<std::string>& corpus) {
  int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    if (s->empty()) {
      s->push_back(static_cast<char>(rng()));
      continue;
    }
    size_t pos = rng() % s->size();
    switch (rng() % 9) {
      case 0:  // flip a bit
        (*s)[pos] = static_cast<char>((*s)[pos] ^ (1 << (rng() % 8)));
        break;
      case 1:  // random byte
        (*s)[pos] = static_cast<char>(rng());
        break;
      case 2: {  // interesting values
        static const uint8_t kVals[] = {0x00, 0x01, 0x7f, 0x80, 0xff, 0x0f, 0x10, 0x15, 0x19, 0x1c};
        (*s)[pos] = static_cast<char>(kVals[rng() % sizeof(kVals)]);
        break;
      }
      case 3:  // truncate
        s->resize(pos);
        break;
      case 4:  // delete a range
        s->erase(pos, 1 + rng() % 16);
        break;
      case 5:  // insert random bytes
        s->insert(pos, std::string(1 + rng() % 8, static_cast<char>(rng())));
        break;
      case 6: {  // overwrite with a chunk of another corpus file
        const std::string& o = corpus[rng() % corpus.size()];
        if (o.empty()) break;
        size_t from = rng() % o.size(), n = 1 + rng() % 64;
        s->replace(pos, std::min(n, s->size() - pos), o.substr(from, n));
        break;
      }
      case 7: {  // a 4-byte little-endian length near the footer
        if (s->size() < 8) break;
        uint32_t v = static_cast<uint32_t>(rng() % (s->size() + 64));
        std::memcpy(s->data() + s->size() - 8, &v, 4);
        break;
      }
      default: {  // a varint-ish run of 0xff
        size_t n = std::min<size_t>(1 + rng() % 10, s->size() - pos);
        std::memset(s->data() + pos, 0xff, n);
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 60;
  std::string crash_dir = ".";
  std::vector<std::string> corpus;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (a == "--crash-dir" && i + 1 < argc) {
      crash_dir = argv[++i];
    } else if (std::filesystem::is_directory(a)) {
      for (const auto& e : std::filesystem::recursive_directory_iterator(a)) {
        if (e.is_regular_file() && e.path().extension() != ".md")
          corpus.push_back(ReadFile(e.path()));
      }
    } else {
      corpus.push_back(ReadFile(a));
    }
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "parquet_fuzz: no corpus files given\n");
    return 2;
  }
  std::filesystem::create_directories(crash_dir);
  std::string last = crash_dir + "/last-input";
  int last_fd = ::open(last.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (last_fd < 0) {
    std::perror("open last-input");
    return 2;
  }
  auto save = [&](const std::string& s) {
    if (::ftruncate(last_fd, 0) != 0 || ::pwrite(last_fd, s.data(), s.size(), 0) < 0) std::abort();
  };
  for (const auto& c : corpus) {
    save(c);
    RunOne(reinterpret_cast<const uint8_t*>(c.data()), c.size());
  }
  std::mt19937_64 rng(std::random_device{}());
  auto start = std::chrono::steady_clock::now();
  int64_t runs = 0;
  std::string input;
  while (std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() <
         seconds) {
    input = corpus[rng() % corpus.size()];
    Mutate(&input, rng, corpus);
    save(input);
    RunOne(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    ++runs;
  }
  ::close(last_fd);
  ::unlink(last.c_str());
  std::printf("parquet_fuzz: %lld runs in %.0f s, no crash\n", static_cast<long long>(runs),
              seconds);
  return 0;
}
#endif
