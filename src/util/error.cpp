// Out-of-line failure path for PAD_CHECK, so the macro stays small at every call site.
#include "pad/util/error.h"

namespace pad {

void check_failed(const char* file, int line, const char* cond, const std::string& msg) {
  throw std::runtime_error(str_cat("internal check failed at ", file, ":", line, ": ", cond,
                                   msg.empty() ? "" : " — ", msg));
}

}  // namespace pad
