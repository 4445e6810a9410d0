// Helpers shared by the libFuzzer targets in tools/fuzz (built by run_libfuzzer.sh).
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace structflow::fuzz {

// Replaces the content of a per-process memory file with `data` and returns its path
// (/proc/self/fd/N), so readers that take a file name read the input with no disk I/O. The
// name ends in `ext` only through the caller's choice of reader (the readers open by path).
inline std::string MemFile(const uint8_t* data, size_t size) {
  static int fd = [] {
    int f = ::memfd_create("structflow_fuzz", MFD_CLOEXEC);
    if (f < 0) {
      std::perror("memfd_create");
      std::abort();
    }
    return f;
  }();
  if (::ftruncate(fd, 0) != 0) std::abort();
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<size_t>(n);
  }
  return "/proc/self/fd/" + std::to_string(fd);
}

}  // namespace structflow::fuzz
