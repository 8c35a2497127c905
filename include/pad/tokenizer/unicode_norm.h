// Unicode normalization forms (UAX #15) for the NFC/NFD/NFKC/NFKD normalizers, from tables generated
// out of the Unicode Character Database (version in unicode_norm_data.cpp).
#pragma once

#include <string>
#include <string_view>

#include "pad/tokenizer/normalizer.h"

namespace pad {

// `text` must be valid UTF-8. Text that is already normalized comes back unchanged.
std::string unicode_normalize(std::string_view text, UnicodeForm form);

}  // namespace pad
