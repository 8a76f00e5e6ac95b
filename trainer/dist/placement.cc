#include "trainer/dist/placement.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "runtime/error.h"

namespace sbmt::dist {
namespace {

// The variable's value as a non-negative int; `fallback` when unset.
int Read(const std::function<const char*(const char*)>& getenv, const char* name, int fallback) {
  const char* text = getenv(name);
  if (text == nullptr) return fallback;
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (*text == '\0' || *end != '\0' || value < 0 || value > 1 << 24) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(name) + ": expected a non-negative integer, got '" + text + "'");
  }
  return static_cast<int>(value);
}

}  // namespace

Placement PlacementFromEnvironment(const std::function<const char*(const char*)>& getenv,
                                   unsigned cores) {
  Placement p;
  p.launched = getenv("OMPI_COMM_WORLD_SIZE") != nullptr;
  p.world = Read(getenv, "OMPI_COMM_WORLD_SIZE", 1);
  p.rank = Read(getenv, "OMPI_COMM_WORLD_RANK", 0);
  p.local_size = Read(getenv, "OMPI_COMM_WORLD_LOCAL_SIZE", 1);
  p.local_rank = Read(getenv, "OMPI_COMM_WORLD_LOCAL_RANK", 0);
  if (p.world < 1)
    throw Error(ErrorCode::kInvalidArgument, "OMPI_COMM_WORLD_SIZE: expected >= 1, got 0");
  if (p.rank >= p.world) {
    throw Error(ErrorCode::kInvalidArgument,
                "OMPI_COMM_WORLD_RANK: expected below OMPI_COMM_WORLD_SIZE (" +
                    std::to_string(p.world) + "), got " + std::to_string(p.rank));
  }
  if (p.local_size < 1 || p.local_size > p.world) {
    throw Error(ErrorCode::kInvalidArgument, "OMPI_COMM_WORLD_LOCAL_SIZE: expected in [1, " +
                                                 std::to_string(p.world) + "], got " +
                                                 std::to_string(p.local_size));
  }
  if (p.local_rank >= p.local_size) {
    throw Error(ErrorCode::kInvalidArgument, "OMPI_COMM_WORLD_LOCAL_RANK: expected below " +
                                                 std::to_string(p.local_size) + ", got " +
                                                 std::to_string(p.local_rank));
  }
  const char* visible = getenv("CUDA_VISIBLE_DEVICES");
  const bool one_gpu =
      visible != nullptr && *visible != '\0' && std::strchr(visible, ',') == nullptr;
  p.gpu_index = one_gpu ? 0 : p.local_rank;
  if (cores == 0) cores = std::max(1u, std::thread::hardware_concurrency());
  p.threads = std::max(1, static_cast<int>(cores) / p.local_size);
  return p;
}

}  // namespace sbmt::dist
