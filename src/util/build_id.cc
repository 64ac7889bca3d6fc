#include "cascade/util/build_id.h"

#include <elf.h>
#include <link.h>

#include <cstdint>
#include <cstdio>

namespace cascade {

namespace {

struct Search {
  uintptr_t address = 0;  // an address inside Cascade's code
  std::string id;
};

// Reads NT_GNU_BUILD_ID from the PT_NOTE segments of the loaded object that contains
// search->address.
int visit(struct dl_phdr_info* info, size_t, void* data) {
  auto* search = static_cast<Search*>(data);
  bool contains = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    const uintptr_t begin = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && search->address >= begin && search->address < begin + ph.p_memsz) contains = true;
  }
  if (!contains) return 0;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    const auto* p = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
    const unsigned char* end = p + ph.p_memsz;
    while (p + sizeof(ElfW(Nhdr)) <= end) {
      const auto* note = reinterpret_cast<const ElfW(Nhdr)*>(p);
      const unsigned char* name = p + sizeof(ElfW(Nhdr));
      const unsigned char* desc = name + ((note->n_namesz + 3) & ~3u);
      if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && desc + note->n_descsz <= end) {
        char hex[3];
        for (uint32_t k = 0; k < note->n_descsz; ++k) {
          std::snprintf(hex, sizeof hex, "%02x", desc[k]);
          search->id += hex;
        }
        return 1;
      }
      p = desc + ((note->n_descsz + 3) & ~3u);
    }
  }
  return 1;  // the right object, without a build ID
}

}  // namespace

const std::string& code_build_id() {
  static const std::string id = [] {
    Search s;
    s.address = reinterpret_cast<uintptr_t>(&code_build_id);
    dl_iterate_phdr(visit, &s);
    return s.id;
  }();
  return id;
}

}  // namespace cascade
