// Data-parallel training across processes: torch c10d's ProcessGroupGloo (CPU) sums gradients;
// every rank scores its slice of each global micro-batch, so N processes equal one over the same batch.
#pragma once

#include <memory>
#include <string>

#include "pad/train/trainer.h"

namespace pad {

struct DistOptions {
  int world_size = 1;                     // --world-size: processes in the job
  int rank = 0;                           // --rank: this process, 0 .. world_size − 1 (0 writes files)
  std::string master_addr = "127.0.0.1";  // --master-addr: where rank 0 serves the rendezvous store
  int master_port = 29500;                // --master-port
  int timeout_s = 300;                    // rendezvous and collective timeout
  void validate() const;
};

// Whether this build has Gloo (its headers are not in every libtorch distribution).
bool data_parallel_available();

// Connects to the other ranks (blocks until all have joined). Throws std::runtime_error when the
// rendezvous fails and std::invalid_argument for bad options.
std::unique_ptr<GradientSync> make_gloo_sync(const DistOptions& options);

}  // namespace pad
