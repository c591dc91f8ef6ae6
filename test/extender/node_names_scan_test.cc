// The node-names fast path: the scanner on its own, and the decoder giving the same answer
// whether a body takes the fast path or the general one.

#include "extender/node_names_scan.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "extender/node_names_cache.h"
#include "extender/wire.h"

namespace mlsched::extender {
namespace {

const char kPod[] = R"({"metadata":{"name":"p","namespace":"ml","uid":"u1","labels":)"
                    R"({"x":"]}\"[{"}},"spec":{"containers":[{"name":"c"}]}})";

std::vector<std::string> Names(const std::optional<TrailingNodeNames>& scan) {
  std::vector<std::string> out;
  for (auto n : scan->names) out.emplace_back(n);
  return out;
}

TEST_CASE("the scanner finds a trailing NodeNames array and its names") {
  const std::string body = std::string(R"({"Pod":)") + kPod +
                           R"(, "Nodes" : null ,"NodeNames": [ "a", "node-2" ,"c"] } )";
  auto scan = ScanTrailingNodeNames(body);
  REQUIRE(scan.has_value());
  CHECK(Names(scan) == std::vector<std::string>{"a", "node-2", "c"});
  CHECK(body.substr(scan->begin, scan->end - scan->begin) == R"([ "a", "node-2" ,"c"])");

  auto empty = ScanTrailingNodeNames(R"({"nodenames":[]})");
  REQUIRE(empty.has_value());
  CHECK(empty->names.empty());
  // Keys match as Go matches them, the Kelvin sign included.
  CHECK(ScanTrailingNodeNames("{\"NODEnames\":[\"a\"]}").has_value());
}

TEST_CASE("the scanner tells whether any name needs Go's escaping") {
  auto plain = ScanTrailingNodeNames(R"({"NodeNames":["a-1.example","node-0000000000000000000002"]})");
  REQUIRE(plain.has_value());
  CHECK(plain->go_plain);
  // Each Go-escaped byte, early and late in a name longer than one 16-byte step.
  for (std::string special : {"<", ">", "&", "\xC3\xA9", "\xE2\x80\xA8", "\xFF"}) {
    for (std::string name : {special + "node-000000000000000001", "node-000000000000000001" + special}) {
      CAPTURE(name);
      auto scan = ScanTrailingNodeNames("{\"NodeNames\":[\"plain\",\"" + name + "\"]}");
      REQUIRE(scan.has_value());
      CHECK_FALSE(scan->go_plain);
      ExtenderArgs args;
      REQUIRE(DecodeExtenderArgs(std::string(R"({"Pod":)") + kPod + R"(,"NodeNames":["plain",")" +
                                     name + "\"]}",
                                 DecodeLimits(), &args)
                  .ok());
      CHECK_FALSE(args.names_plain);
      std::string trusted, checked;
      EncodeHostPriorityList(args.candidates, {1, 2}, &trusted, args.names_plain);
      EncodeHostPriorityList(args.candidates, {1, 2}, &checked, false);
      CHECK(trusted == checked);
    }
  }
  // A special byte after a name's closing quote, in the same 16-byte step, is not the name's.
  // (What follows the object is the general parser's to refuse.)
  auto after = ScanTrailingNodeNames(R"({"NodeNames":["abc"]}     <&>)");
  REQUIRE(after.has_value());
  CHECK(after->go_plain);
  ExtenderArgs junk;
  CHECK_FALSE(DecodeExtenderArgs(R"({"Pod":{},"NodeNames":["abc"]}     <&>)", DecodeLimits(), &junk).ok());
  auto short_names = ScanTrailingNodeNames(R"({"NodeNames":["a","b","c","d","e","f"]})");
  REQUIRE(short_names.has_value());
  CHECK(short_names->go_plain);
}

TEST_CASE("the scanner leaves every unusual body to the general parser") {
  const std::vector<std::string> bodies = {
      "",
      "[]",
      R"({"Pod":{}})",                                    // no NodeNames
      R"({"NodeNames":null})",                            // not an array
      R"({"NodeNames":["a"],"Pod":{}})",                  // not the last member
      R"({"NodeNames":["a"],"NodeNames":["b"]})",         // twice
      R"({"NodeNames":["a\"b"]})",                        // an escape
      std::string("{\"NodeNames\":[\"a\x01\"]}"),         // a control byte
      std::string("{\"NodeNames\":[\"a\0\"]}", 17),       // a NUL byte
      R"({"NodeNames":["a",1]})",                         // not a string
      R"({"NodeNames":["a",]})",                          // a trailing comma
      R"({"NodeNames":["a")",                             // cut short
      R"({"NodeNames":["a"])",                            // no closing brace
      R"({"Pod":"unterminated, "NodeNames":["a"]})",      // the key is inside a string
      R"({"No\u0064eNames":["a"]})",                      // an escaped key
      R"({"Nodes":{"items":[]},"NodeNames":["a"]})",     // full Node objects: general path
  };
  for (const std::string& b : bodies) {
    CAPTURE(b);
    CHECK_FALSE(ScanTrailingNodeNames(b).has_value());
  }
}

// Decodes `body` and, as a reference, the same body with a member after NodeNames (which the
// fast path refuses), and checks that both give the same pod and candidates.
void CheckSameAsGeneralPath(const std::string& body) {
  CAPTURE(body);
  ExtenderArgs fast, general;
  Status a = DecodeExtenderArgs(body, DecodeLimits(), &fast);
  std::string slow_body = body;
  slow_body.insert(slow_body.rfind('}'), R"(,"zz":0)");
  Status b = DecodeExtenderArgs(slow_body, DecodeLimits(), &general);
  REQUIRE(a.ok() == b.ok());
  if (!a.ok()) {
    CHECK(a.message() == b.message());
    return;
  }
  CHECK(fast.pod.name == general.pod.name);
  CHECK(fast.pod.uid == general.pod.uid);
  CHECK(fast.has_node_names == general.has_node_names);
  CHECK(fast.full_nodes == general.full_nodes);
  REQUIRE(fast.candidates.size() == general.candidates.size());
  for (size_t i = 0; i < fast.candidates.size(); ++i) {
    CHECK(fast.candidates[i].name == general.candidates[i].name);
  }
}

TEST_CASE("bodies decode the same on the fast path and the general one") {
  std::string many = std::string(R"({"Pod":)") + kPod + R"(,"Nodes":null,"NodeNames":[)";
  for (int i = 0; i < 3000; ++i) many += (i ? ",\"gpu-node-" : "\"gpu-node-") + std::to_string(i) + "\"";
  many += "]}";
  CheckSameAsGeneralPath(many);
  {
    // The fast path was taken: its names are views of the array's own bytes, closing quote
    // included, while the general (in-situ) parser overwrites that quote with a NUL.
    ExtenderArgs args;
    REQUIRE(DecodeExtenderArgs(many, DecodeLimits(), &args).ok());
    REQUIRE(args.candidates.size() == 3000);
    CHECK(args.candidates[2999].name.data()[args.candidates[2999].name.size()] == '"');
  }
  CheckSameAsGeneralPath(std::string(R"({"Pod":)") + kPod + R"(,"NodeNames":[]})");
  CheckSameAsGeneralPath(std::string(R"({"Pod":)") + kPod + "\n,\"NodeNames\":[\"caf\xC3\xA9\"]\n}");
  // A broken Pod: both paths refuse it with the same words.
  CheckSameAsGeneralPath(R"({"Pod":{"metadata":[1,}},"NodeNames":["a"]})");
  CheckSameAsGeneralPath(R"({"Pod":7,"NodeNames":["a"]})");
  // A body that is not JSON after the array is refused.
  ExtenderArgs args;
  CHECK_FALSE(DecodeExtenderArgs(std::string(R"({"Pod":)") + kPod + R"(,"NodeNames":["a"]}x)",
                                 DecodeLimits(), &args)
                  .ok());
  // Names point into storage that the args own: they survive the body.
  {
    std::string body = std::string(R"({"Pod":)") + kPod + R"(,"NodeNames":["kept"]})";
    REQUIRE(DecodeExtenderArgs(body, DecodeLimits(), &args).ok());
    body.assign(body.size(), 'x');
  }
  ExtenderArgs moved = std::move(args);
  REQUIRE(moved.candidates.size() == 1);
  CHECK(moved.candidates[0].name == "kept");
}

std::string NamesBodyOf(const std::vector<std::string>& names, const std::string& tail = "}") {
  std::string b = std::string(R"({"Pod":)") + kPod + R"(,"Nodes":null,"NodeNames":[)";
  for (size_t i = 0; i < names.size(); ++i) b += (i ? ",\"" : "\"") + names[i] + "\"";
  return b + "]" + tail;
}

std::vector<std::string> CandidateNames(const ExtenderArgs& args) {
  std::vector<std::string> out;
  for (const auto& c : args.candidates) out.emplace_back(c.name);
  return out;
}

TEST_CASE("the node-names cache answers repeated lists and only byte-identical ones") {
  NodeNamesCache cache;
  const std::vector<std::string> a = {"n-1", "n-2", "n-3"};
  const std::vector<std::string> b = {"n-1", "n-2"};         // a prefix of a's names
  const std::vector<std::string> c = {"n-1", "n-2", "n-30"};  // differs in one name
  std::vector<ExtenderArgs> kept;
  for (int round = 0; round < 3; ++round) {
    for (const auto* names : {&a, &b, &c}) {
      ExtenderArgs args;
      REQUIRE(DecodeExtenderArgs(NamesBodyOf(*names), DecodeLimits(), &args, &cache).ok());
      CHECK(CandidateNames(args) == *names);
      CHECK(args.names_plain);
      kept.push_back(std::move(args));  // outlives its cache entry (2 entries, 3 lists)
    }
  }
  for (size_t i = 0; i < kept.size(); ++i) {
    const auto& want = i % 3 == 0 ? a : i % 3 == 1 ? b : c;
    CHECK(CandidateNames(kept[i]) == want);
  }
  // A cached array followed by another member, or by junk: never taken from the cache.
  ExtenderArgs args;
  REQUIRE(DecodeExtenderArgs(NamesBodyOf(a), DecodeLimits(), &args, &cache).ok());
  REQUIRE(DecodeExtenderArgs(NamesBodyOf(a, R"(,"NodeNames":["z"]})"), DecodeLimits(), &args,
                             &cache)
              .ok());
  CHECK(CandidateNames(args) == std::vector<std::string>{"z"});
  CHECK_FALSE(DecodeExtenderArgs(NamesBodyOf(a, "} x"), DecodeLimits(), &args, &cache).ok());
  // A body that is not JSON around a cached array is refused with the general parser's words.
  ExtenderArgs plain;
  std::string broken = NamesBodyOf(a);
  broken.replace(broken.find("\"Pod\":{"), 7, "\"Pod\":[");
  Status with = DecodeExtenderArgs(broken, DecodeLimits(), &args, &cache);
  Status without = DecodeExtenderArgs(broken, DecodeLimits(), &plain);
  CHECK_FALSE(with.ok());
  CHECK(with.message() == without.message());
}

}  // namespace
}  // namespace mlsched::extender
