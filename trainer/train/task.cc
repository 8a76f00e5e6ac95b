#include "trainer/train/task.h"

#include "runtime/error.h"

namespace sbmt::trainer {

void MoveTensors(const torch::Device& device, std::initializer_list<torch::Tensor*> tensors) {
  for (torch::Tensor* t : tensors) {
    if (t->defined()) *t = t->to(device);
  }
}

torch::Device DeviceOf(const torch::nn::Module& model) {
  const std::vector<torch::Tensor> params = model.parameters();
  return params.empty() ? torch::Device(torch::kCPU) : params.front().device();
}

void SetObjective(TaskForward& f, const torch::Tensor& term_loss_sum,
                  const torch::Tensor& regularizer, int64_t examples,
                  const GlobalBatchCounts& global) {
  f.loss = regularizer * (static_cast<double>(examples) / global.examples);
  if (!term_loss_sum.defined()) return;
  f.loss = f.loss + term_loss_sum / static_cast<double>(global.loss_terms);
  f.loss_sum = term_loss_sum.item<double>();
}

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
