// NameTable: every name finds its slot, and names never added find nothing, across growth.

#include "policy/name_table.h"

#include <doctest/doctest.h>

#include <string>
#include <unordered_map>

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
  CHECK(NameTable::Hash("abc") != NameTable::Hash("abd"));
  CHECK(NameTable::Hash("gpu-node-00001") != NameTable::Hash("gpu-node-00002"));
}

}  // namespace
}  // namespace mlsched::policy
