// HTTP request bodies of `pad serve`: the first byte picks /v1/chat/completions or /v1/completions,
// the rest is the body → parse_request (every field checked, ApiError naming it), and the error
// object an ApiError becomes. A parsed request must be within the ranges the parser promises.
#include <cmath>
#include <cstdlib>
#include <exception>

#include "fuzz_common.h"
#include "pad/serve/api.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const auto e = (data[0] & 1) ? pad::serve::Endpoint::kChat : pad::serve::Endpoint::kCompletion;
  const std::string body(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    pad::serve::ApiRequest r = pad::serve::parse_request(body, e);
    if (r.n < 1 || r.n > 16 || r.stop.size() > 4) std::abort();
    if (!(r.sampling.temperature >= 0 && r.sampling.temperature <= 2)) std::abort();
    if (e == pad::serve::Endpoint::kChat ? r.messages.empty() : r.prompt.empty()) std::abort();
    if (!std::isfinite(r.pad.w)) std::abort();
  } catch (const pad::serve::ApiError& err) {
    if (err.status < 400 || err.status > 499) std::abort();
    (void)pad::serve::error_body(err).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } catch (const std::exception&) {
  }
  return 0;
}
