// fuzz_adapter_config links adapters.cpp, whose value head and LoRA products call two kernels that
// LoraAdapter::load never reaches. These stand in for them (pad_kernels is slow to instrument); a
// call is a finding (abort).
#include <cstdlib>

#include "pad/kernels/weight.h"

namespace pad::kernels {

WeightMatrix WeightMatrix::from_tensor(const at::Tensor&) { std::abort(); }
at::Tensor linear(const at::Tensor&, const WeightMatrix&, const at::Tensor&) { std::abort(); }

}  // namespace pad::kernels
