// Case-insensitive whole-word phrase matching, the one primitive every judge and the knowledge
// base use to read free text (model outputs included), so all of them agree on what "contains" means.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace pad::eval {

std::string to_lower_ascii(std::string_view s);

// Number of non-overlapping occurrences of `phrase` in `text`. Both must already be lower-case.
// Where the phrase starts (ends) with a letter or digit, the character before (after) an
// occurrence must not be one, so "one moon" does not match inside "one moons" and "red" not
// inside "bored"; punctuation phrases such as "!" or "'s got" match anywhere.
int count_phrase(std::string_view text, std::string_view phrase);
inline bool contains_phrase(std::string_view text, std::string_view phrase) { return count_phrase(text, phrase) > 0; }

// Sum of count_phrase over a lexicon (lower-case phrases).
int count_lexicon(std::string_view text, const std::vector<std::string_view>& lexicon);

// Whitespace-separated words.
int count_words(std::string_view text);

}  // namespace pad::eval
