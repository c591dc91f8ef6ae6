#pragma once

// The end-to-end throughput figure: simulated scheduling throughput (pods/s) of the driver
// over HTTP to a real mlsched-extender (fed by the fake API server), against the same driver
// with no extender, on clusters of each given size.

#include <string>
#include <vector>

namespace mlsched::bench {

struct ThroughputOptions {
  std::vector<int> node_counts = {1000, 5000};
  int pods = 2000;           // one-GPU pods, all pending at once
  std::string extender_bin;  // path of mlsched-extender
  std::string out_dir;       // where throughput.csv/json and the extender log go
  std::string command;       // for the report
  unsigned seed = 1;
};

// Returns 0 on success; prints the table. Starts and stops its own fake API server and
// extender process (SIGTERM, then waits); never leaves the process behind.
int RunThroughput(const ThroughputOptions& options);

}  // namespace mlsched::bench
