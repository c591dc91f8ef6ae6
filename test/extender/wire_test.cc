// The wire codec on its own: Go-compatible decoding and encoding, limits, bad input.

#include "extender/wire.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "extender/name_order.h"

namespace mlsched::extender {
namespace {

const char kPod[] =
    R"({"metadata":{"name":"p","namespace":"ml","uid":"u1"},)"
    R"("spec":{"containers":[{"name":"c","resources":{"requests":{"cpu":"1"}}}]}})";

std::string Node(const std::string& name) {
  return R"({"metadata":{"name":")" + name +
         R"(","labels":{"a":"b"}},"status":{"allocatable":{"cpu":"4","pods":"110"},)"
         R"("conditions":[{"type":"Ready","status":"True"}]}})";
}

std::string GoString(std::string_view s) {
  std::string out;
  AppendGoString(s, &out);
  return out;
}

TEST_CASE("AppendGoString escapes as Go's encoding/json") {
  struct Case {
    std::string in, want;
  };
  std::vector<Case> cases = {
      {"plain", R"("plain")"},
      {"q\"b\\s", R"("q\"b\\s")"},
      {"a\nb\rc\td", R"("a\nb\rc\td")"},
      {std::string("\x01\x1f", 2), R"("\u0001\u001f")"},
      {std::string("nul\0x", 5), R"("nul\u0000x")"},
      {"<a&b>", R"("\u003ca\u0026b\u003e")"},
      {"caf\xC3\xA9", "\"caf\xC3\xA9\""},
      {"\xE2\x80\xA8\xE2\x80\xA9", R"("\u2028\u2029")"},
      {"bad\xFF", R"("bad\ufffd")"},
      {"trunc\xE2\x80", R"("trunc\ufffd\ufffd")"},
      {"overlong\xC0\xAF", R"("overlong\ufffd\ufffd")"},
      {"surrogate\xED\xA0\x80", R"("surrogate\ufffd\ufffd\ufffd")"},
      {"emoji\xF0\x9F\x98\x80", "\"emoji\xF0\x9F\x98\x80\""},
  };
  for (const auto& c : cases) {
    CAPTURE(c.in);
    CHECK(GoString(c.in) == c.want);
  }
}

TEST_CASE("KeyMatches folds case as Go does") {
  CHECK(KeyMatches("NodeNames", "nodenames"));
  CHECK(KeyMatches("nodenames", "nodenames"));
  CHECK(KeyMatches("NODENAMES", "nodenames"));
  CHECK_FALSE(KeyMatches("NodeName", "nodenames"));
  CHECK_FALSE(KeyMatches("NodeNamesX", "nodenames"));
  CHECK(KeyMatches("Node\xC5\xBF", "nodes"));            // U+017F long s
  CHECK(KeyMatches("Pod\xE2\x84\xAA", "podk"));           // U+212A Kelvin sign
  CHECK_FALSE(KeyMatches("Pod\xC3\xA9", "pode"));
}

TEST_CASE("ExtenderArgs with NodeNames") {
  std::string body = std::string(R"({"pod":)") + kPod +
                     R"(,"Nodes":null,"nodeNAMES":["n1","n\u0032","n3"]})";
  ExtenderArgs args;
  REQUIRE(DecodeExtenderArgs(body, DecodeLimits(), &args).ok());
  CHECK(args.pod.name == "p");
  CHECK(args.pod.ns == "ml");
  CHECK(args.pod.uid == "u1");
  CHECK(args.pod.requests.milli_cpu == 1000);
  CHECK_FALSE(args.full_nodes);
  CHECK(args.has_node_names);
  REQUIRE(args.candidates.size() == 3);
  CHECK(args.candidates[1].name == "n2");
  CHECK(args.candidates[1].node == nullptr);

  // The decoded names survive a move of the args.
  ExtenderArgs moved = std::move(args);
  policy::FilterResult r;
  r.passed = {0, 2, 7};  // 7 is out of range: dropped
  r.failed = {{1, "Insufficient cpu"}};
  std::string out;
  EncodeFilterResult(moved, body, r, &out);
  CHECK(out ==
        R"({"Nodes":null,"NodeNames":["n1","n3"],"FailedNodes":{"n2":"Insufficient cpu"},)"
        R"("FailedAndUnresolvableNodes":{},"Error":""})");
}

TEST_CASE("OrderByName orders as sort.Strings, stably, whatever the names share") {
  // Against the reference: a stable sort with the byte-wise string compare.
  std::mt19937 rng(7);
  auto reference = [](const std::vector<std::string_view>& names) {
    std::vector<uint32_t> order(names.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<uint32_t>(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](uint32_t a, uint32_t b) { return names[a] < names[b]; });
    return order;
  };
  const std::vector<std::string> prefixes = {"", "gpu-node-", "gke-ml-a100-pool-3f2a9c1e-", "n",
                                             std::string("\x00\xff", 2)};
  for (int round = 0; round < 300; ++round) {
    const std::string& prefix = prefixes[rng() % prefixes.size()];
    const size_t n = rng() % 3 == 0 ? rng() % 4 : rng() % 400;
    std::vector<std::string> storage;
    for (size_t i = 0; i < n; ++i) {
      std::string s = prefix;
      // Short and long tails (past the eight-byte key), bytes of any value, and duplicates.
      const size_t len = rng() % 4 == 0 ? rng() % 20 : rng() % 4;
      for (size_t k = 0; k < len; ++k) {
        s.push_back(static_cast<char>(rng() % 3 == 0 ? rng() % 256 : '0' + rng() % 3));
      }
      if (!storage.empty() && rng() % 5 == 0) s = storage[rng() % storage.size()];
      storage.push_back(std::move(s));
    }
    std::vector<std::string_view> names(storage.begin(), storage.end());
    CAPTURE(round);
    CHECK(OrderByName(names) == reference(names));
  }
}

TEST_CASE("failed maps: sorted, duplicates to the last, each name and reason escaped as Go") {
  // A pod that fits nowhere: every candidate fails, most for the same reason; names arrive
  // unsorted, one twice, one that needs escaping.
  std::string body = std::string(R"({"Pod":)") + kPod + R"(,"Nodes":null,"NodeNames":[)";
  const std::vector<std::string> names = {"n-10", "n-2", "n-<1>", "n-2", "n-1"};
  for (size_t i = 0; i < names.size(); ++i) body += (i ? ",\"" : "\"") + names[i] + "\"";
  body += "]}";
  ExtenderArgs args;
  REQUIRE(DecodeExtenderArgs(body, DecodeLimits(), &args).ok());
  CHECK_FALSE(args.names_plain);
  policy::FilterResult r;
  r.failed = {{0, "Insufficient nvidia.com/gpu"}, {1, "Insufficient nvidia.com/gpu"},
              {2, "Insufficient nvidia.com/gpu"}, {3, "taint <x>"}};
  r.unresolvable = {{4, "Insufficient nvidia.com/gpu"}};
  std::string out;
  EncodeFilterResult(args, body, r, &out);
  CHECK(out == R"({"Nodes":null,"NodeNames":[],"FailedNodes":{"n-10":"Insufficient nvidia.com/gpu",)"
               R"("n-2":"taint \u003cx\u003e","n-\u003c1\u003e":"Insufficient nvidia.com/gpu"},)"
               R"("FailedAndUnresolvableNodes":{"n-1":"Insufficient nvidia.com/gpu"},"Error":""})");
  // The same with plain names: the fast path gives the same bytes.
  ExtenderArgs plain;
  std::string plain_body = body;
  plain_body.replace(plain_body.find("n-<1>"), 5, "n-3");
  REQUIRE(DecodeExtenderArgs(plain_body, DecodeLimits(), &plain).ok());
  CHECK(plain.names_plain);
  std::string fast, slow;
  EncodeFilterResult(plain, plain_body, r, &fast);
  plain.names_plain = false;
  EncodeFilterResult(plain, plain_body, r, &slow);
  CHECK(fast == slow);
}

TEST_CASE("failed maps from a list's kept name order equal the sorted ones") {
  // A node-names list keeps its name order (NodeNamesList::NameOrder) and the failure maps use
  // it instead of sorting; the bytes must be those of the sort, duplicates and all.
  std::mt19937 rng(3);
  for (int round = 0; round < 60; ++round) {
    std::vector<std::string> names;
    const int n = 1 + static_cast<int>(rng() % 300);
    for (int i = 0; i < n; ++i) {
      names.push_back("gpu-node-" + std::to_string(rng() % (round % 3 == 0 ? 50 : 100000)));
    }
    std::string body = std::string(R"({"Pod":)") + kPod + R"(,"Nodes":null,"NodeNames":[)";
    for (int i = 0; i < n; ++i) body += (i ? ",\"" : "\"") + names[i] + "\"";
    body += "]}";
    ExtenderArgs args;
    REQUIRE(DecodeExtenderArgs(body, DecodeLimits(), &args).ok());
    REQUIRE(args.names_ != nullptr);  // the scanner's list
    policy::FilterResult r;
    for (uint32_t i = 0; i < static_cast<uint32_t>(n); ++i) {
      const uint32_t pick = static_cast<uint32_t>(rng() % 10);
      if (pick < (round % 2 == 0 ? 9u : 2u)) {
        (pick % 2 ? r.failed : r.unresolvable).push_back({i, "reason " + std::to_string(pick % 3)});
      } else {
        r.passed.push_back(i);
      }
    }
    if (n > 2) r.failed.push_back({1, "again"});  // the same candidate twice: the last wins
    std::string with_list, sorted;
    EncodeFilterResult(args, body, r, &with_list);
    EncodeFilterResult(args, body, r, &with_list);  // the second time the order is kept
    const auto keep = args.names_;  // holds the names while the args forget their list
    args.names_.reset();
    EncodeFilterResult(args, body, r, &sorted);
    EncodeFilterResult(args, body, r, &sorted);
    args.names_ = keep;
    CAPTURE(round);
    CHECK(with_list == sorted);
  }
}

TEST_CASE("ExtenderArgs with a full NodeList copies the request's node bytes") {
  std::string n1 = Node("n1"), n2 = Node("n2"), n3 = Node("n3");
  std::string body = std::string(R"({"Pod":)") + kPod + R"(,"Nodes":{"metadata":{"x":1},"items":[)" +
                     n1 + "," + n2 + " , " + n3 + R"(]},"NodeNames":null})";
  ExtenderArgs args;
  Status s = DecodeExtenderArgs(body, DecodeLimits(), &args);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(args.full_nodes);
  CHECK_FALSE(args.has_node_names);
  REQUIRE(args.nodes.size() == 3);
  REQUIRE(args.candidates.size() == 3);
  CHECK(args.candidates[2].name == "n3");
  CHECK(args.candidates[2].node == &args.nodes[2]);
  CHECK(args.nodes[0].allocatable.milli_cpu == 4000);
  CHECK(args.nodes[0].ready);
  for (int i = 0; i < 3; ++i) {
    CHECK(body.substr(args.item_spans[i].begin, args.item_spans[i].size()) == Node(args.nodes[i].name));
  }

  policy::FilterResult r;
  r.passed = {2, 0};
  r.unresolvable = {{1, "node(s) had untolerated taint"}};
  std::string out;
  EncodeFilterResult(args, body, r, &out);
  CHECK(out == R"({"Nodes":{"metadata":{"x":1},"items":[)" + n3 + "," + n1 +
                   R"(]},"NodeNames":null,"FailedNodes":{},)"
                   R"("FailedAndUnresolvableNodes":{"n2":"node(s) had untolerated taint"},"Error":""})");
}

TEST_CASE("a later duplicate Nodes key replaces the earlier one, spans included") {
  std::string body = std::string(R"({"Pod":)") + kPod + R"(,"Nodes":{"items":[)" + Node("a") +
                     R"(]},"nodes":{"items":[)" + Node("b") + "," + Node("c") + "]}}";
  ExtenderArgs args;
  REQUIRE(DecodeExtenderArgs(body, DecodeLimits(), &args).ok());
  REQUIRE(args.nodes.size() == 2);
  CHECK(args.nodes[0].name == "b");
  CHECK(body.substr(args.item_spans[1].begin, args.item_spans[1].size()) == Node("c"));
  std::string out;
  policy::FilterResult r;
  EncodeFilterResult(args, body, r, &out);
  CHECK(out == R"({"Nodes":{"metadata":{},"items":[]},"NodeNames":null,"FailedNodes":{},)"
               R"("FailedAndUnresolvableNodes":{},"Error":""})");
}

TEST_CASE("bad ExtenderArgs bodies are refused with a message naming the problem") {
  std::string deep(100000, '[');
  struct Case {
    std::string name, body, want;
  };
  std::vector<Case> cases = {
      {"not json", "hello", "malformed JSON"},
      {"empty", "", "empty body"},
      {"truncated", R"({"Pod":{)", "malformed JSON"},
      {"trailing garbage", std::string("{\"Pod\":") + kPod + "} x", "malformed JSON"},
      {"nul inside", std::string("{\"Pod\":") + kPod + std::string("}\0{}", 3), "malformed JSON"},
      {"array root", "[]", "not a JSON object"},
      {"missing Pod", R"({"NodeNames":["a"]})", "Pod: missing"},
      {"null Pod", R"({"Pod":null,"NodeNames":["a"]})", "Pod: missing"},
      {"Pod wrong type", R"({"Pod":"x"})", "Pod: expected an object"},
      {"Pod without metadata", R"({"Pod":{}})", "Pod: "},
      {"NodeNames wrong type", std::string("{\"Pod\":") + kPod + R"(,"NodeNames":{}})",
       "NodeNames: expected an array"},
      {"NodeNames element", std::string("{\"Pod\":") + kPod + R"(,"NodeNames":["a",1]})",
       "NodeNames[1]: expected a string"},
      {"Nodes wrong type", std::string("{\"Pod\":") + kPod + R"(,"Nodes":[]})", "Nodes: expected"},
      {"items wrong type", std::string("{\"Pod\":") + kPod + R"(,"Nodes":{"items":{}}})",
       "Nodes.items: expected an array"},
      {"item wrong type", std::string("{\"Pod\":") + kPod + R"(,"Nodes":{"items":[1]}})",
       "Nodes.items[0]: expected an object"},
      {"bad node", std::string("{\"Pod\":") + kPod + R"(,"Nodes":{"items":[{"metadata":{}}]}})",
       "Nodes.items[0]: "},
      {"nested 100000 deep", deep, "nested deeper than"},
      {"nested objects", [] {
         std::string s;
         for (int i = 0; i < 600; ++i) s += "{\"a\":";
         return s;
       }(), "nested deeper than"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    ExtenderArgs args;
    Status s = DecodeExtenderArgs(c.body, DecodeLimits(), &args);
    CHECK_FALSE(s.ok());
    CHECK(s.code() == Status::Code::kInvalidArgument);
    CHECK_MESSAGE(s.message().find(c.want) != std::string::npos, s.message());
  }
}

TEST_CASE("the size limit is checked before parsing") {
  DecodeLimits limits;
  limits.max_body_bytes = 100;
  std::string body = std::string("{\"Pod\":") + kPod + "}";
  ExtenderArgs args;
  Status s = DecodeExtenderArgs(body, limits, &args);
  CHECK_FALSE(s.ok());
  CHECK(s.message().find("exceeds the limit of 100 bytes") != std::string::npos);
  limits.max_body_bytes = body.size();
  CHECK(DecodeExtenderArgs(body, limits, &args).ok());
}

TEST_CASE("ExtenderBindingArgs") {
  BindingArgs b;
  REQUIRE(DecodeBindingArgs(R"({"PodName":"p","podnamespace":"ml","PodUID":"u","NODE":"n1"})",
                            DecodeLimits(), &b)
              .ok());
  CHECK(b.pod_name == "p");
  CHECK(b.pod_namespace == "ml");
  CHECK(b.pod_uid == "u");
  CHECK(b.node == "n1");
  CHECK_FALSE(DecodeBindingArgs(R"({"PodName":"p"})", DecodeLimits(), &b).ok());
  CHECK_FALSE(DecodeBindingArgs(R"({"Node":"n"})", DecodeLimits(), &b).ok());
  Status s = DecodeBindingArgs(R"({"PodName":1,"Node":"n"})", DecodeLimits(), &b);
  CHECK(s.message() == "PodName: expected a string, got a number");

  std::string out;
  EncodeBindingResult("", &out);
  CHECK(out == R"({"Error":""})");
  out.clear();
  EncodeBindingResult("gang \"x\" timed out", &out);
  CHECK(out == R"({"Error":"gang \"x\" timed out"})");
}

TEST_CASE("ExtenderPreemptionArgs in both shapes") {
  std::string meta = std::string(R"({"Pod":)") + kPod +
                     R"(,"NodeNameToVictims":null,"NodeNameToMetaVictims":{)"
                     R"("n2":{"Pods":[{"UID":"v2"}],"NumPDBViolations":1},)"
                     R"("n1":{"Pods":[{"UID":"v1a"},{"uid":"v1b"}],"NumPDBViolations":0},)"
                     R"("n3":null}})";
  PreemptionArgs p;
  REQUIRE(DecodePreemptionArgs(meta, DecodeLimits(), &p).ok());
  REQUIRE(p.candidates.size() == 2);
  CHECK(p.candidates[0].node == "n2");
  CHECK(p.candidates[0].num_pdb_violations == 1);
  CHECK(p.candidates[1].victim_uids == std::vector<std::string>{"v1a", "v1b"});

  std::string full = std::string(R"({"Pod":)") + kPod + R"(,"NodeNameToVictims":{"n1":{"Pods":[)" +
                     kPod + R"(],"NumPDBViolations":0}},"NodeNameToMetaVictims":null})";
  REQUIRE(DecodePreemptionArgs(full, DecodeLimits(), &p).ok());
  REQUIRE(p.candidates.size() == 1);
  CHECK(p.candidates[0].victim_uids == std::vector<std::string>{"u1"});

  CHECK_FALSE(DecodePreemptionArgs(std::string(R"({"Pod":)") + kPod +
                                       R"(,"NodeNameToMetaVictims":{"n":{"Pods":[{}]}}})",
                                   DecodeLimits(), &p)
                  .ok());
  CHECK_FALSE(DecodePreemptionArgs(std::string(R"({"Pod":)") + kPod +
                                       R"(,"NodeNameToMetaVictims":{"n":{"NumPDBViolations":"x"}}})",
                                   DecodeLimits(), &p)
                  .ok());

  std::vector<policy::NodeVictims> result = {{"n2", {"v2"}, 1}, {"n1", {"a", "b"}, 0}};
  std::string out;
  EncodePreemptionResult(result, &out);
  CHECK(out == R"({"NodeNameToMetaVictims":{"n1":{"Pods":[{"UID":"a"},{"UID":"b"}],)"
               R"("NumPDBViolations":0},"n2":{"Pods":[{"UID":"v2"}],"NumPDBViolations":1}}})");
  out.clear();
  EncodePreemptionResult({}, &out);
  CHECK(out == R"({"NodeNameToMetaVictims":{}})");
}

TEST_CASE("HostPriorityList clamps scores to 0..10 in request order") {
  std::vector<policy::Candidate> c = {{"b", nullptr}, {"a", nullptr}, {"c", nullptr}};
  std::string out;
  EncodeHostPriorityList(c, {11, -3, 7}, &out);
  CHECK(out == R"([{"Host":"b","Score":10},{"Host":"a","Score":0},{"Host":"c","Score":7}])");
  out.clear();
  EncodeHostPriorityList({}, {}, &out);
  CHECK(out == "[]");
}

TEST_CASE("filter errors and bad requests encode as JSON") {
  std::string out;
  EncodeFilterError("boom", &out);
  CHECK(out == R"({"Nodes":null,"NodeNames":null,"FailedNodes":{},"FailedAndUnresolvableNodes":{},"Error":"boom"})");
  out.clear();
  EncodeBadRequest("malformed \"x\"", &out);
  CHECK(out == R"({"error":"malformed \"x\""})");
}

}  // namespace
}  // namespace mlsched::extender

namespace mlsched::extender {
namespace {

TEST_CASE("metadata.managedFields is left out of the DOM, nothing else is") {
  // managedFields as an array, an object and a scalar; a label named managedFields stays.
  std::string pod =
      R"({"metadata":{"name":"p","managedFields":[{"a":{"b":[1,2,{"c":null}]}}],"namespace":"ml",)"
      R"("labels":{"managedFields":"x"},"uid":"u1"},"spec":{"containers":[]}})";
  std::string node =
      R"({"metadata":{"managedFields":{"x":1},"name":"n1","labels":{"a":"b"},"managedFields":7},)"
      R"("status":{"allocatable":{"cpu":"2"}}})";
  std::string body = R"({"Pod":)" + pod + R"(,"Nodes":{"items":[)" + node + "]}}";
  ExtenderArgs args;
  Status s = DecodeExtenderArgs(body, DecodeLimits(), &args);
  REQUIRE_MESSAGE(s.ok(), s.message());
  CHECK(args.pod.name == "p");
  CHECK(args.pod.ns == "ml");
  CHECK(args.pod.uid == "u1");
  REQUIRE(args.nodes.size() == 1);
  CHECK(args.nodes[0].name == "n1");
  CHECK(args.nodes[0].labels.Get("a") == "b");
  CHECK(args.nodes[0].allocatable.milli_cpu == 2000);
  // The raw bytes keep it.
  CHECK(body.substr(args.item_spans[0].begin, args.item_spans[0].size()) == node);
  // Malformed or too deep inside managedFields is still an error.
  ExtenderArgs bad;
  CHECK_FALSE(DecodeExtenderArgs(R"({"Pod":{"metadata":{"managedFields":[}}})", DecodeLimits(), &bad).ok());
  DecodeLimits shallow;
  shallow.max_depth = 5;
  CHECK_FALSE(DecodeExtenderArgs(R"({"Pod":{"metadata":{"managedFields":[[[[1]]]]}}})", shallow, &bad).ok());
}

}  // namespace
}  // namespace mlsched::extender
