// Fuzz target: reading the feature store's event journal (src/serve/event_journal.cc) from
// arbitrary bytes, as after a crash in the middle of a write or a damaged disk. Opening must
// keep the whole checksummed records, cut the rest, and leave a file the next open reads back
// identically; appending after that must work.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "serve/event_journal.h"

#include <spdlog/spdlog.h>

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);  // every torn tail is logged; thousands per second here
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("cascade_fuzz_journal_" + std::to_string(::getpid()));
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(data),
                                                                 static_cast<std::streamsize>(size));
  std::vector<cascade::EventJournal::Record> first;
  {
    cascade::EventJournal j(path, false);
    first = j.replayed();
    if (j.bytes() + j.torn_bytes() != size) std::abort();
    j.append({{"u", "i\t1\t1"}});
  }
  cascade::EventJournal again(path, false);
  if (again.torn_bytes() != 0) std::abort();  // the repaired file plus one append is whole
  auto want = first;
  want.push_back({"u", "i\t1\t1"});
  if (again.replayed() != want) std::abort();
  return 0;
}
