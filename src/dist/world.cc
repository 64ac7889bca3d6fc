// MPI behind cascade/dist/world.h. The only translation unit that includes mpi.h.
#include "cascade/dist/world.h"

// The C API only: OpenMPI's deprecated C++ bindings would need libmpi_cxx.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <fmt/format.h>
#include <mpi.h>

#include <climits>
#include <cstdlib>

#include "cascade/core/error.h"

namespace cascade::dist {

namespace {

World g_world;
thread_local int t_collective_depth = 0;

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(fmt::format("MPI: {} failed on rank {} of {}: {}", what, g_world.rank, g_world.size,
                          std::string(msg, static_cast<size_t>(len))));
}

// Rows go over the wire as one derived type of `width` values, so counts are in rows and a
// block may hold more than INT_MAX values (only INT_MAX rows per rank).
void allgather_rows_typed(void* data, std::span<const size_t> offsets, size_t width,
                          MPI_Datatype value) {
  const World& w = g_world;
  CASCADE_CHECK(offsets.size() == static_cast<size_t>(w.size) + 1,
                fmt::format("allgather_rows: {} offsets for {} ranks", offsets.size(), w.size));
  if (!w.mpi || w.size == 1 || width == 0) return;
  CASCADE_CHECK(width <= static_cast<size_t>(INT_MAX), "allgather_rows: row width above INT_MAX");
  std::vector<int> counts(static_cast<size_t>(w.size)), displs(static_cast<size_t>(w.size));
  for (int k = 0; k < w.size; ++k) {
    const size_t b = offsets[static_cast<size_t>(k)], e = offsets[static_cast<size_t>(k) + 1];
    CASCADE_CHECK(b <= e && e <= static_cast<size_t>(INT_MAX),
                  fmt::format("allgather_rows: bad block [{}, {}) of rank {}", b, e, k));
    counts[static_cast<size_t>(k)] = static_cast<int>(e - b);
    displs[static_cast<size_t>(k)] = static_cast<int>(b);
  }
  MPI_Datatype row;
  check(MPI_Type_contiguous(static_cast<int>(width), value, &row), "MPI_Type_contiguous");
  check(MPI_Type_commit(&row), "MPI_Type_commit");
  const int rc = MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, data, counts.data(),
                                displs.data(), row, MPI_COMM_WORLD);
  MPI_Type_free(&row);
  check(rc, "MPI_Allgatherv");
}

}  // namespace

std::vector<size_t> block_offsets(size_t n, int parts) {
  CASCADE_CHECK(parts >= 1, fmt::format("block_offsets: {} parts", parts));
  const size_t p = static_cast<size_t>(parts);
  std::vector<size_t> off(p + 1, 0);
  for (size_t k = 0; k < p; ++k) off[k + 1] = off[k] + n / p + (k < n % p ? 1 : 0);
  return off;
}

std::vector<size_t> weighted_offsets(std::span<const uint64_t> prefix, int parts) {
  CASCADE_CHECK(parts >= 1, fmt::format("weighted_offsets: {} parts", parts));
  CASCADE_CHECK(!prefix.empty() && prefix[0] == 0, "weighted_offsets: prefix must start with 0");
  const size_t n = prefix.size() - 1;
  const unsigned __int128 total = prefix[n];
  const size_t p = static_cast<size_t>(parts);
  std::vector<size_t> off(p + 1, 0);
  size_t r = 0;
  for (size_t k = 0; k + 1 < p; ++k) {
    // 128-bit product: total * parts may not fit 64 bits.
    const unsigned __int128 target = total * (k + 1);
    while (r < n && static_cast<unsigned __int128>(prefix[r]) * p < target) ++r;
    off[k + 1] = r;
  }
  off[p] = n;
  return off;
}

const World& world() {
  return g_world;
}

Session::Session() {
  if (std::getenv("OMPI_COMM_WORLD_SIZE") == nullptr) return;  // not started by mpirun
  int provided = 0;
  // FUNNELED: only the main thread calls MPI; worker threads compute between the calls.
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  g_world.mpi = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
}

Session::~Session() {
  if (g_world.mpi) MPI_Finalize();
  g_world = World{};
}

void abort_job(int code) {
  if (g_world.mpi && g_world.size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

Collective::Collective() {
  ++t_collective_depth;
}
Collective::~Collective() {
  --t_collective_depth;
}
bool collective_active() {
  return t_collective_depth > 0 && g_world.size > 1;
}

void barrier() {
  if (g_world.mpi && g_world.size > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
}

void allgather_rows(float* data, std::span<const size_t> offsets, size_t width) {
  allgather_rows_typed(data, offsets, width, MPI_FLOAT);
}
void allgather_rows(double* data, std::span<const size_t> offsets, size_t width) {
  allgather_rows_typed(data, offsets, width, MPI_DOUBLE);
}

void allreduce_min(std::span<uint32_t> data) {
  if (!g_world.mpi || g_world.size == 1 || data.empty()) return;
  CASCADE_CHECK(data.size() <= static_cast<size_t>(INT_MAX),
                "allreduce_min: more than INT_MAX values");
  check(MPI_Allreduce(MPI_IN_PLACE, data.data(), static_cast<int>(data.size()), MPI_UINT32_T,
                      MPI_MIN, MPI_COMM_WORLD),
        "MPI_Allreduce");
}

}  // namespace cascade::dist
