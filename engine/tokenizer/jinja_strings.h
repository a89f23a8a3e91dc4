// Python str operations for the Jinja2 interpreter (jinja.h), on UTF-8 and counting code points
// as Python does. Case mapping covers ASCII, Latin-1, Greek and Cyrillic.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace moe::jinja {

// str.strip / lstrip / rstrip; chars nullptr: whitespace.
std::string strStrip(const std::string& s, const std::string* chars, bool left, bool right);
std::string strUpper(const std::string& s);
std::string strLower(const std::string& s);
std::string strCapitalize(const std::string& s);  // str.capitalize()
std::string strTitle(const std::string& s);       // str.title()
std::string strSwapcase(const std::string& s);
std::string jinjaTitle(const std::string& s);     // jinja2's title filter (words split at -, space, ( { [ <)
bool strIsLower(const std::string& s);
bool strIsUpper(const std::string& s);
// str.replace(old, new, count); count < 0: all. Fails when the result would exceed maxBytes.
Result<std::string> strReplace(const std::string& s, const std::string& from, const std::string& to, int64_t count,
                               size_t maxBytes);
// str.split(sep, maxsplit) / rsplit; sep nullptr: runs of whitespace.
Result<std::vector<std::string>> strSplit(const std::string& s, const std::string* sep, int64_t maxsplit, bool fromRight);
std::vector<std::string> strSplitLines(const std::string& s, bool keepEnds = false);
std::string strCenter(const std::string& s, int64_t width, const std::string& fill = " ");
int64_t strWordCount(const std::string& s);
std::string htmlEscape(const std::string& s);
bool pyParseInt(const std::string& s, int base, int64_t& out);  // int(s, base)
bool pyParseFloat(const std::string& s, double& out);           // float(s)

}  // namespace moe::jinja
