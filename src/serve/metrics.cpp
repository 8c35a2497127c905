// /metrics: the engine's statistics and the server's counters in Prometheus' text format.
#include <sstream>

#include "call.h"

namespace pad::serve {

std::string metrics_text(const EngineStats& s, ServerCounters& counters, int in_flight) {
  std::ostringstream o;
  o << "# TYPE pad_requests_total counter\n";
  {
    std::lock_guard<std::mutex> lock(counters.mu);
    for (const auto& [status, n] : counters.requests_by_status)
      o << "pad_requests_total{status=\"" << status << "\"} " << n << "\n";
    o << "# TYPE pad_prompt_tokens_total counter\npad_prompt_tokens_total " << counters.prompt_tokens << "\n";
    o << "# TYPE pad_client_disconnects_total counter\npad_client_disconnects_total " << counters.disconnects << "\n";
  }
  o << "# TYPE pad_tokens_total counter\n";
  for (const auto& [strategy, n] : s.tokens_by_strategy) o << "pad_tokens_total{strategy=\"" << strategy << "\"} " << n << "\n";
  // Per strategy: generated tokens over the summed time its requests spent decoding (prefill included).
  o << "# TYPE pad_tokens_per_second gauge\n";
  for (const auto& [strategy, ms] : s.decode_ms_by_strategy) {
    auto it = s.tokens_by_strategy.find(strategy);
    const double n = it == s.tokens_by_strategy.end() ? 0.0 : static_cast<double>(it->second);
    o << "pad_tokens_per_second{strategy=\"" << strategy << "\"} " << (ms > 0 ? n / (ms / 1000.0) : 0.0) << "\n";
  }
  o << "# TYPE pad_queue_depth gauge\npad_queue_depth " << s.n_queued << "\n";
  o << "# TYPE pad_active_requests gauge\npad_active_requests " << s.n_active << "\n";
  o << "# TYPE pad_active_rows gauge\npad_active_rows " << s.n_rows << "\n";
  o << "# TYPE pad_in_flight gauge\npad_in_flight " << in_flight << "\n";
  o << "# TYPE pad_steps_total counter\npad_steps_total " << s.n_steps << "\n";
  o << "# TYPE pad_cancelled_total counter\npad_cancelled_total " << s.n_cancelled << "\n";
  o << "# TYPE pad_step_seconds_total counter\npad_step_seconds_total " << s.step_ms_total / 1000.0 << "\n";
  return o.str();
}

}  // namespace pad::serve
