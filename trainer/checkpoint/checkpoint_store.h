// Committed checkpoints on disk (DESIGN.md section 4): a directory per step, written atomically,
// verified on load, with fallback to the previous step when the newest is damaged.
//
// Layout under the store's root:
//   step_<N>/            files of step N (tensors as safetensors, state.json, ...)
//   step_<N>/MANIFEST    one line per file: "<size> <crc32 hex> <name>"
//   step_<N>/COMMITTED   written last: a step without it was never committed
//
// Save() writes into a temporary directory, fsyncs every file and the MANIFEST, renames the
// directory into place, fsyncs the root, then writes and fsyncs COMMITTED; a crash at any point
// leaves either no step_<N> or an uncommitted one, never a damaged committed one. Then it keeps
// only the newest `keep_last` committed steps.
//
//   CheckpointStore store("runs/x/checkpoints", /*keep_last=*/3);
//   store.Save(1200, {{"model.safetensors", bytes}, {"state.json", json}});
//   std::optional<LoadedCheckpoint> c = store.LoadLatest(&log);  // newest step that verifies
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime/error.h"

namespace sbmt::trainer {

SBMT_DEFINE_ERROR(CheckpointError, ErrorCode::kDataLoss);

struct LoadedCheckpoint {
  int64_t step = 0;
  std::string dir;                           // the step_<N> directory
  std::map<std::string, std::string> files;  // name -> verified contents
};

class CheckpointStore {
 public:
  CheckpointStore(std::string root, int keep_last);

  // Files are name -> contents; names are plain file names (no '/'). Throws CheckpointError on
  // I/O failure (saying how many bytes the save needed and how many were free), leaving
  // committed steps untouched and removing its temporary directory. Returns the step directory.
  std::string Save(int64_t step, const std::map<std::string, std::string>& files);

  // Committed steps, newest first.
  std::vector<int64_t> CommittedSteps() const;

  // The newest committed step whose files match their MANIFEST (sizes and CRC-32) and that
  // `validate` accepts (it throws CheckpointError for contents it cannot use, such as an
  // unparsable state.json), and the newer committed steps that failed, with the reason. Moves
  // nothing: the caller decides (Quarantine, or refuse).
  struct Latest {
    std::optional<LoadedCheckpoint> loaded;
    std::vector<std::pair<int64_t, std::string>> damaged;  // newest first
  };
  Latest FindLatest(const std::function<void(const LoadedCheckpoint&)>& validate = {}) const;

  // FindLatest, reporting each damaged step (e.g. to the log) and moving it aside.
  std::optional<LoadedCheckpoint> LoadLatest(
      const std::function<void(const std::string&)>& report = {});

  // Moves a damaged step out of the way of later saves, into root/damaged/step_<N>-<time>/ with
  // a REASON file; never deletes it. Returns the new directory.
  std::string Quarantine(int64_t step, const std::string& reason);

  // Removes the .tmp_* directories interrupted saves left (at start, before any save of this
  // run; saves remove their own on failure). Returns how many it removed.
  int RemoveStaleTemporaries() const;

  // Verifies and loads one step; throws CheckpointError saying what is wrong.
  LoadedCheckpoint Load(int64_t step) const;

  const std::string& root() const { return root_; }

 private:
  std::string SaveVia(int64_t step, const std::map<std::string, std::string>& files,
                      const std::string& tmp_dir);
  std::string StepDir(int64_t step) const;
  void Prune() const;

  std::string root_;
  int keep_last_;
};

// CRC-32 (zlib's polynomial) of a byte string.
uint32_t Crc32(const std::string& bytes);

}  // namespace sbmt::trainer
