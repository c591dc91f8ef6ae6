#include "k8s/json_stream.h"

#include "k8s/json_parse.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

namespace mlsched::k8s {
namespace {

std::vector<std::string> FeedAll(JsonStreamSplitter& s, const std::vector<std::string>& chunks,
                                 Status* status) {
  std::vector<std::string> out;
  for (const auto& c : chunks) {
    *status = s.Feed(c, [&out](std::string_view v) {
      out.emplace_back(v);
      return true;
    });
    if (!status->ok()) break;
  }
  return out;
}

TEST_CASE("JsonStreamSplitter: values split at every possible boundary") {
  const std::vector<std::string> values = {
      R"({"type":"ADDED","object":{"metadata":{"name":"a"}}})",
      R"({"type":"MODIFIED","object":{"s":"brace } and { in a string","q":"\"}"}})",
      R"({"type":"DELETED","object":{"e":"back\\slash\\","arr":[1,[2,{"x":[]}]]}})",
      R"([{"a":1},{"b":"]"}])",
  };
  std::string stream;
  for (const auto& v : values) stream += v + "\n";
  // Every single split point, then random multi-way splits.
  for (size_t cut = 0; cut <= stream.size(); ++cut) {
    JsonStreamSplitter s;
    Status st;
    auto got = FeedAll(s, {stream.substr(0, cut), stream.substr(cut)}, &st);
    REQUIRE(st.ok());
    CHECK(got == values);
    CHECK_FALSE(s.InValue());
  }
  std::mt19937 rng(42);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::string> chunks;
    size_t pos = 0;
    while (pos < stream.size()) {
      size_t n = std::uniform_int_distribution<size_t>(1, 17)(rng);
      chunks.push_back(stream.substr(pos, n));
      pos += n;
    }
    JsonStreamSplitter s;
    Status st;
    CHECK(FeedAll(s, chunks, &st) == values);
    CHECK(st.ok());
  }
}

TEST_CASE("JsonStreamSplitter: a cut stream and garbage") {
  JsonStreamSplitter s;
  Status st;
  auto got = FeedAll(s, {"{\"type\":\"ADDED\",\"obj"}, &st);
  CHECK(st.ok());
  CHECK(got.empty());
  CHECK(s.InValue());
  s.Reset();
  CHECK_FALSE(s.InValue());
  got = FeedAll(s, {"{}\n"}, &st);
  CHECK(got.size() == 1);

  JsonStreamSplitter g;
  FeedAll(g, {"{} x {}"}, &st);
  CHECK_FALSE(st.ok());

  JsonStreamSplitter small(16);
  FeedAll(small, {"{\"aaaaaaaa\":", "\"bbbbbbbbbbbbbbbbbbbbbbbbbb\"}"}, &st);
  CHECK_FALSE(st.ok());
  CHECK(st.message().find("larger") != std::string::npos);
}

TEST_CASE("JsonStreamSplitter: the callback can stop early") {
  JsonStreamSplitter s;
  int n = 0;
  Status st = s.Feed("{}{}{}", [&n](std::string_view) { return ++n < 2; });
  CHECK(st.ok());
  CHECK(n == 2);
}

TEST_CASE("ParseJsonInsitu: valid, malformed, trailing data, and nesting past the limit") {
  struct Case {
    std::string text;
    bool ok;
    std::string want;
  };
  const Case cases[] = {
      {R"({"a":[1,{"b":"c\"d"}],"e":null})", true, ""},
      {"  [1,2]\n", true, ""},
      {"{\"a\":", false, "JSON error"},
      {"{} {}", false, "JSON error"},
      {"", false, "JSON error"},
      {std::string(600, '[') + std::string(600, ']'), false, "deeper than 512"},
      {std::string(512, '[') + std::string(512, ']'), true, ""},
      // Far deeper than any stack could take recursively: refused at once, no crash.
      {std::string(5'000'000, '['), false, "deeper than 512"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text.substr(0, 40));
    std::string buf = c.text;
    rapidjson::Document d;
    Status s = ParseJsonInsitu(buf.data(), &d);
    CHECK(s.ok() == c.ok);
    if (!c.ok) CHECK_MESSAGE(s.message().find(c.want) != std::string::npos, s.message());
  }
  std::string buf = R"({"k":"v"})";
  rapidjson::Document d;
  REQUIRE(ParseJsonInsitu(buf.data(), &d).ok());
  CHECK(std::string(d["k"].GetString()) == "v");
}

}  // namespace
}  // namespace mlsched::k8s
