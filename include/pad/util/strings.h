// Small string helpers shared by the layers.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pad {

std::vector<std::string> split(std::string_view s, char sep);
std::string join(const std::vector<std::string>& parts, std::string_view sep);
bool starts_with(std::string_view s, std::string_view prefix);
bool ends_with(std::string_view s, std::string_view suffix);
// Parses "1,2,3" (spaces allowed) into ints; throws std::invalid_argument naming `what`.
std::vector<int> parse_int_list(std::string_view s, std::string_view what);

}  // namespace pad
