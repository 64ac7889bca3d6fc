// The dashboard's static files (web/*, plus Debian's Chart.js), embedded in the binary at
// build time: CMake's cmake/embed_assets.cmake writes the generated web_assets.cc, so the
// server needs no install path and the page always matches the binary serving it.
#pragma once

#include <span>
#include <string_view>

namespace cascade {

struct WebAsset {
  std::string_view name;          ///< path under /ui/, e.g. "app.js"
  std::string_view content_type;  ///< e.g. "text/javascript; charset=utf-8"
  std::string_view etag;          ///< quoted strong ETag (a content hash)
  std::string_view data;
};

/// Every embedded asset (generated).
std::span<const WebAsset> web_assets();

}  // namespace cascade
