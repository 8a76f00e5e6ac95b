#include "trainer/train/task.h"

#include "runtime/error.h"

namespace sbmt::trainer {

void Task::InitFrom(const std::string& dir, const Log&) {
  throw Error(ErrorCode::kInvalidArgument, "model.init_from=" + dir + ": task " + name() +
                                               " cannot start from a Hugging Face directory");
}

void Task::ExportHuggingFace(const std::string& dir) const { CheckCanExport(dir); }

void Task::CheckCanExport(const std::string& dir) const {
  throw Error(ErrorCode::kInvalidArgument,
              "--export-hf=" + dir + ": task " + name() + " has no Hugging Face export");
}

}  // namespace sbmt::trainer
