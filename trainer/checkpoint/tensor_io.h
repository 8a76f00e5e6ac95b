// Converting between LibTorch parameters and safetensors records (the only checkpoint file that
// sees torch). Float32 parameters are stored as "F32".
//
//   std::vector<SafeTensor> t = ToSafeTensors(model.named_parameters());
//   LoadTensors(file, model.named_parameters(), "model.safetensors", /*allow_missing=*/{".sbm."});
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "trainer/checkpoint/safetensors.h"

namespace sbmt::trainer {

SafeTensor ToSafeTensor(const std::string& name, const torch::Tensor& t);
std::vector<SafeTensor> ToSafeTensors(const torch::OrderedDict<std::string, torch::Tensor>& params);

// Copies `source` tensors into same-named parameters. A parameter missing from the file is an
// error unless its name contains one of `allow_missing`; a shape or dtype mismatch is always
// one. Returns the names left at their current values. Throws CheckpointError naming `what`.
std::vector<std::string> LoadTensors(const SafetensorsFile& source,
                                     const torch::OrderedDict<std::string, torch::Tensor>& params,
                                     const std::string& what,
                                     const std::vector<std::string>& allow_missing = {});

// One tensor's bytes into an existing tensor of the same shape (F32).
void CopyInto(const SafeTensor& s, torch::Tensor& t, const std::string& what);

}  // namespace sbmt::trainer
