// The report's one self-contained HTML page: sections of captions, tables and figures, each PNG
// inlined as a base64 data URI (no external src or href), and "not run" notes for the sections
// whose input was not given.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "cascade/report/figure.h"

namespace cascade::report {

struct Table {
  std::string caption{};
  std::vector<std::string> header{};
  std::vector<std::vector<std::string>> rows{};
};

struct Section {
  std::string id{};  ///< anchor
  std::string title{};
  std::string caption{};  ///< what the figures show
  std::string source{};   ///< the file and command its numbers come from
  std::vector<Figure> figures{};
  std::vector<Table> tables{};
  std::string
      not_run{};  ///< when not empty: why there is nothing, and the command that produces it
};

std::string base64(const std::string& bytes);
std::string html_escape(const std::string& s);

/// The page for `sections`; each figure's PNG is read from fig_dir/<name>.png.
std::string render_html(const std::string& title, const std::vector<std::string>& intro,
                        const std::vector<Section>& sections, const std::filesystem::path& fig_dir);

}  // namespace cascade::report
