#pragma once

// Reading test data (fixtures, deploy/ files, demo requests) in doctest tests: a file that
// cannot be read or a body that is not JSON fails the test where it happens.

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <fstream>
#include <sstream>
#include <string>

namespace mlsched::test_files {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "cannot read " << path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline rapidjson::Document ParseJson(const std::string& s) {
  rapidjson::Document d;
  d.Parse(s.data(), s.size());
  REQUIRE_MESSAGE(!d.HasParseError(), "not JSON: " << s.substr(0, 200));
  return d;
}

}  // namespace mlsched::test_files
