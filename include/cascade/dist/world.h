// The MPI world of this process, behind an MPI-free interface (only src/dist includes mpi.h).
//
// MPI is initialised only by init_from_environment(), which the `cascade` CLI calls at start:
// and only when the process was started by mpirun (OMPI_COMM_WORLD_SIZE is set). Every other
// program (the tests, `cascade serve`, the Python module, the sanitizer build) never calls
// MPI_Init, and then the world is one rank (rank 0 of 1) and every collective below is a no-op
// on the caller's data.
//
// Collective work is opt-in at the call site: a Collective scope tells the library code that
// supports it (the iALS fit, evaluate()) to share its work across the ranks. Inside one, every
// rank must make the same calls in the same order (as for any MPI collective).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace cascade::dist {

/// Contiguous partition of [0, n) into `parts` blocks, as parts + 1 offsets: block k is
/// [off[k], off[k + 1]). The first n % parts blocks get one element more; parts >= 1.
std::vector<size_t> block_offsets(size_t n, int parts);

/// Contiguous partition of [0, n) into `parts` blocks of about equal weight, where
/// prefix[i] (size n + 1, non-decreasing, prefix[0] = 0) is the total weight of rows [0, i).
/// Block k ends at the first row r with prefix[r] >= total * (k + 1) / parts (the last block
/// ends at n), so blocks are contiguous, may be empty, and cover [0, n) exactly.
std::vector<size_t> weighted_offsets(std::span<const uint64_t> prefix, int parts);

/// This process's place in the MPI world (rank 0 of 1 when MPI was not initialised).
struct World {
  int rank = 0;
  int size = 1;
  bool mpi = false;  ///< MPI_Init was called (the process was started by mpirun)
};
const World& world();

/// Initialises MPI when started by mpirun (see the file comment); finalises it when the
/// returned guard is destroyed. Call once, first thing in main().
class Session {
 public:
  Session();
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
};

/// Ends every rank of the job (MPI_Abort) after an error on one rank, so the others do not
/// wait forever in a collective. Returns (does nothing) when MPI is not initialised.
void abort_job(int code);

/// While alive, library code that supports it runs as one collective across all ranks.
/// Nested scopes are allowed. Per thread: only the thread that opened it sees it.
class Collective {
 public:
  Collective();
  ~Collective();
  Collective(const Collective&) = delete;
  Collective& operator=(const Collective&) = delete;
};
/// True inside a Collective scope of a world of more than one rank.
bool collective_active();

void barrier();

/// All-gather of row blocks in place: `data` holds rows x width values (row-major, rows =
/// offsets.back()); rank k contributes rows [offsets[k], offsets[k + 1]) and, on return, every
/// rank holds every block. `offsets` has size() + 1 entries, identical on all ranks.
void allgather_rows(float* data, std::span<const size_t> offsets, size_t width);
void allgather_rows(double* data, std::span<const size_t> offsets, size_t width);

/// Element-wise minimum over the ranks, in place, on every rank.
void allreduce_min(std::span<uint32_t> data);

}  // namespace cascade::dist
