// GradientSync over c10d's ProcessGroupGloo with a TCPStore rendezvous. The tensors of one call are
// flattened into one buffer per dtype, so a step costs one all-reduce.
#include "pad/train/dist.h"

#include <chrono>
#include <map>

#include "pad/util/error.h"

#ifdef PAD_HAVE_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#endif

namespace pad {
namespace {

#ifdef PAD_HAVE_GLOO

class GlooSync : public GradientSync {
 public:
  explicit GlooSync(const DistOptions& o) : rank_(o.rank), world_(o.world_size) {
    try {
      c10d::TCPStoreOptions so;
      so.port = static_cast<std::uint16_t>(o.master_port);
      so.isServer = o.rank == 0;
      so.numWorkers = static_cast<std::size_t>(o.world_size);
      so.timeout = std::chrono::seconds(o.timeout_s);
      auto store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
      auto po = c10d::ProcessGroupGloo::Options::create(std::chrono::seconds(o.timeout_s));
      po->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname(o.master_addr == "localhost" ? "127.0.0.1" : o.master_addr));
      po->threads = 2;
      group_ = c10::make_intrusive<c10d::ProcessGroupGloo>(store, o.rank, o.world_size, po);
    } catch (const std::exception& e) {
      throw_runtime("data-parallel rendezvous at ", o.master_addr, ":", o.master_port, " (rank ", o.rank, " of ",
                    o.world_size, ") failed: ", e.what());
    }
  }

  void all_reduce_sum(std::vector<at::Tensor>& tensors) override {
    std::map<at::ScalarType, std::vector<size_t>> by_dtype;  // one flat buffer per dtype
    for (size_t i = 0; i < tensors.size(); ++i) by_dtype[tensors[i].scalar_type()].push_back(i);
    for (auto& [dtype, idx] : by_dtype) {
      std::vector<at::Tensor> flat;
      for (size_t i : idx) flat.push_back(tensors[i].detach().reshape({-1}));
      std::vector<at::Tensor> buffer = {at::cat(flat)};  // [Σ numel] dtype
      group_->allreduce(buffer)->wait();
      int64_t offset = 0;
      at::NoGradGuard no_grad;
      for (size_t i : idx) {
        const int64_t n = tensors[i].numel();
        tensors[i].copy_(buffer[0].narrow(0, offset, n).view(tensors[i].sizes()));
        offset += n;
      }
    }
  }
  int rank() const override { return rank_; }
  int world_size() const override { return world_; }

 private:
  int rank_, world_;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> group_;
};
#endif

}  // namespace

void DistOptions::validate() const {
  if (world_size < 1) throw_invalid("--world-size ", world_size, " must be ≥ 1");
  if (rank < 0 || rank >= world_size) throw_invalid("--rank ", rank, " is out of range [0, ", world_size, ")");
  if (master_port <= 0 || master_port > 65535) throw_invalid("--master-port ", master_port, " is out of range");
  if (master_addr.empty()) throw_invalid("--master-addr is empty");
  if (timeout_s <= 0) throw_invalid("distributed timeout must be > 0");
}

std::unique_ptr<GradientSync> make_gloo_sync(const DistOptions& o) {
  o.validate();
#ifdef PAD_HAVE_GLOO
  return std::make_unique<GlooSync>(o);
#else
  throw_runtime("--world-size ", o.world_size, ": this build of pad has no Gloo (install libgloo-dev and rebuild)");
#endif
}

bool data_parallel_available() {
#ifdef PAD_HAVE_GLOO
  return true;
#else
  return false;
#endif
}

}  // namespace pad
