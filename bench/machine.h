#pragma once

// What every bench report prints first: the command that made it and the machine it ran on,
// with the load average (the development machine is shared, so a figure means little without
// it). Header-only so that each bench binary can use it without another library.

#include <sys/utsname.h>

#include <fstream>
#include <string>
#include <thread>

namespace mlsched::bench {

inline std::string CommandLine(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) {
    if (i) s += ' ';
    s += argv[i];
  }
  return s;
}

// "/proc/loadavg"'s first three fields ("1.52 0.98 0.61"), or "" when unreadable.
inline std::string LoadAverage() {
  std::ifstream in("/proc/loadavg");
  std::string a, b, c;
  if (!(in >> a >> b >> c)) return "";
  return a + " " + b + " " + c;
}

// "Linux 6.1.0 x86_64, 2 cpus, <cpu model>".
inline std::string MachineLine() {
  std::string s;
  struct utsname u {};
  if (uname(&u) == 0) s = std::string(u.sysname) + " " + u.release + " " + u.machine;
  s += ", " + std::to_string(std::thread::hardware_concurrency()) + " cpus";
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos && colon + 2 <= line.size()) s += ", " + line.substr(colon + 2);
      break;
    }
  }
  return s;
}

}  // namespace mlsched::bench
