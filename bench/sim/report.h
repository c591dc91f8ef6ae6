#pragma once

// Writes the quality report: raw numbers (CSV/JSON), gnuplot plots (SVG) and an HTML page
// that shows them with the command and the machine that made them.

#include <string>
#include <vector>

#include "bench/driver/driver.h"
#include "bench/driver/metrics.h"
#include "policy/status.h"

namespace mlsched::bench {

struct MachineInfo {
  std::string uname, cpu_model;
  unsigned cpus = 0;
};
MachineInfo DescribeMachine();

struct ReportInput {
  std::string title;
  std::string command;                 // the command line that made the report
  std::string workload;                // the workload's description
  std::string cluster;                 // the cluster's description
  std::vector<const RunResult*> runs;  // with, without (same order as summaries)
  std::vector<Summary> summaries;
  // Extra curves (FGD replay): x, y per run; written as CSV and plotted when non-empty.
  std::string curve_title, curve_x, curve_y;
  std::vector<std::vector<std::pair<double, double>>> curves;
  std::vector<std::string> notes;  // lines shown under the table
};

// Creates `dir` (and parents) and writes index.html, summary.json, samples_<run>.csv,
// jobs_<run>.csv, delays_<run>.csv, plots.gp and the SVGs (when gnuplot is installed; a note
// in the page otherwise). Returns the first I/O error.
Status WriteReport(const std::string& dir, const ReportInput& in);

}  // namespace mlsched::bench
