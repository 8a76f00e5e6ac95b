#include "trainer/checkpoint/tensor_io.h"

#include <cstring>

#include "trainer/checkpoint/checkpoint_store.h"

namespace sbmt::trainer {

SafeTensor ToSafeTensor(const std::string& name, const torch::Tensor& t) {
  // Checkpoints hold float32 on the host, whatever device and precision trained.
  torch::Tensor c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
  SafeTensor s{name, "F32", c.sizes().vec(), {}};
  s.bytes.resize(static_cast<size_t>(c.numel()) * sizeof(float));
  std::memcpy(s.bytes.data(), c.data_ptr<float>(), s.bytes.size());
  return s;
}

std::vector<SafeTensor> ToSafeTensors(
    const torch::OrderedDict<std::string, torch::Tensor>& params) {
  std::vector<SafeTensor> out;
  for (const auto& p : params) out.push_back(ToSafeTensor(p.key(), p.value()));
  return out;
}

void CopyInto(const SafeTensor& s, torch::Tensor& t, const std::string& what) {
  if (s.dtype != "F32" || s.shape != t.sizes().vec() || t.scalar_type() != torch::kFloat32) {
    throw CheckpointError(what + ": tensor '" + s.name + "' is " + s.dtype + " " +
                          c10::str(c10::IntArrayRef(s.shape)) + ", the model expects F32 " +
                          c10::str(t.sizes()));
  }
  torch::NoGradGuard no_grad;
  if (t.is_cpu()) {
    std::memcpy(t.data_ptr<float>(), s.bytes.data(), s.bytes.size());
    return;
  }
  // A device tensor: through a host tensor over the bytes (copy_ moves it to the device).
  t.copy_(torch::from_blob(const_cast<char*>(s.bytes.data()), t.sizes(), torch::kFloat32));
}

std::vector<std::string> LoadTensors(const SafetensorsFile& source,
                                     const torch::OrderedDict<std::string, torch::Tensor>& params,
                                     const std::string& what,
                                     const std::vector<std::string>& allow_missing) {
  std::vector<std::string> kept;
  for (const auto& p : params) {
    const SafeTensor* s = source.Find(p.key());
    if (!s) {
      bool allowed = false;
      for (const std::string& pattern : allow_missing) {
        allowed |= p.key().find(pattern) != std::string::npos;
      }
      if (!allowed) throw CheckpointError(what + ": missing tensor '" + p.key() + "'");
      kept.push_back(p.key());
      continue;
    }
    torch::Tensor t = p.value();
    CopyInto(*s, t, what);
  }
  return kept;
}

}  // namespace sbmt::trainer
