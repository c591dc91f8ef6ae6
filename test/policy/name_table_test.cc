// NameTable: every name finds its slot, and names never added find nothing, across growth.

#include "policy/name_table.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace mlsched::policy {
namespace {

TEST_CASE("name table: slots by name across growth, misses stay misses") {
  NameTable t;
  CHECK(t.Find("anything") == -1);
  std::unordered_map<std::string, int32_t> want;
  for (int i = 0; i < 20000; ++i) {
    // Short, long, shared prefixes and suffixes, and the empty name.
    std::string name = i % 7 == 0   ? "n" + std::to_string(i)
                       : i % 7 == 1 ? "ip-10-0-" + std::to_string(i % 256) + "-" +
                                          std::to_string(i) + ".ec2.internal"
                       : i == 2     ? ""
                                    : "gpu-node-" + std::to_string(100000 + i);
    if (want.count(name)) continue;
    want[name] = static_cast<int32_t>(t.size());
    t.Append(name);
  }
  for (const auto& [name, slot] : want) {
    CAPTURE(name);
    CHECK(t.Find(name) == slot);
  }
  for (int i = 0; i < 2000; ++i) {
    CHECK(t.Find("gpu-node-" + std::to_string(900000 + i)) == -1);
    CHECK(t.Find("ip-10-0-" + std::to_string(i)) == -1);
  }
  // FindMany answers as Find does, for lists of every length around its batch size, hits and
  // misses mixed, on an empty table too.
  std::vector<std::string> list;
  for (const auto& [name, slot] : want) list.push_back(name);
  for (int i = 0; i < 500; ++i) list.insert(list.begin() + i * 7, "absent-" + std::to_string(i));
  for (size_t n : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{33}, list.size()}) {
    std::vector<int32_t> got(n, -7);
    t.FindMany(n, [&](size_t i) { return std::string_view(list[i]); }, got.data());
    for (size_t i = 0; i < n; ++i) {
      CAPTURE(list[i]);
      CHECK(got[i] == t.Find(list[i]));
    }
  }
  std::vector<int32_t> none(3, 5);
  NameTable().FindMany(3, [&](size_t i) { return std::string_view(list[i]); }, none.data());
  CHECK(none == std::vector<int32_t>{-1, -1, -1});
  CHECK(NameTable::Hash("abc") != NameTable::Hash("abd"));
  CHECK(NameTable::Hash("gpu-node-00001") != NameTable::Hash("gpu-node-00002"));
}

TEST_CASE("name table: names that differ in trailing digits spread over the table") {
  // Cluster nodes are named by pattern: a shared prefix and a counter. A hash whose low bits
  // (the ones that pick the home word) ignore the counter piles them up in long runs.
  for (const char* pattern : {"gpu-node-%05d", "n%d", "ip-10-0-%d.ec2.internal",
                              "gke-ml-a100-pool-3f2a9c1e-%04d", "%08d"}) {
    CAPTURE(pattern);
    NameTable t;
    char name[64];
    for (int i = 0; i < 5000; ++i) {
      std::snprintf(name, sizeof name, pattern, i);
      t.Append(name);
    }
    // At most half full: a random hash's longest run over 5,000 names is about 10 words.
    CHECK(t.LongestProbe() <= 24);
  }
}

}  // namespace
}  // namespace mlsched::policy
