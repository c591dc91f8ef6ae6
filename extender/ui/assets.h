#pragma once

// The cluster view page (index.html, style.css, app.js in this folder), embedded in the binary
// at build time by embed.cmake, so that the debug port serves it with no file beside the
// binary and no external asset (it works air-gapped).

#include <string_view>

namespace mlsched::extender::ui {

struct Asset {
  std::string_view name;  // "index.html", "app.js", "style.css"
  std::string_view mime;  // with charset
  std::string_view body;
};

// The asset of that file name, or nullptr.
const Asset* FindAsset(std::string_view name);

}  // namespace mlsched::extender::ui
