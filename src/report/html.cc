#include "cascade/report/html.h"

#include <fmt/format.h>

#include "cascade/io/artifact.h"

namespace cascade::report {

std::string base64(const std::string& bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(bytes[i]) << 16) |
                       (static_cast<uint8_t>(bytes[i + 1]) << 8) |
                       static_cast<uint8_t>(bytes[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (i < bytes.size()) {
    uint32_t v = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) v |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += i + 1 < bytes.size() ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

std::string table_html(const Table& t) {
  std::string s = "<table>";
  if (!t.caption.empty()) s += "<caption>" + html_escape(t.caption) + "</caption>";
  s += "<tr>";
  for (const auto& h : t.header) s += "<th>" + html_escape(h) + "</th>";
  s += "</tr>\n";
  for (const auto& row : t.rows) {
    s += "<tr>";
    for (const auto& c : row) s += "<td>" + html_escape(c) + "</td>";
    s += "</tr>\n";
  }
  return s + "</table>\n";
}

constexpr const char* kStyle = R"(
body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}
h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
img{max-width:100%;border:1px solid #eee}
table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}
caption{text-align:left;font-style:italic;padding:.2em 0}
.source{color:#555;font-size:.9em}
.notrun{background:#fff4e5;border-left:4px solid #f0a030;padding:.5em 1em}
code{background:#f4f4f4;padding:0 .2em}
)";

}  // namespace

std::string render_html(const std::string& title, const std::vector<std::string>& intro,
                        const std::vector<Section>& sections,
                        const std::filesystem::path& fig_dir) {
  std::string s = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>" +
                  html_escape(title) + "</title>\n<style>" + kStyle + "</style></head><body>\n";
  s += "<h1>" + html_escape(title) + "</h1>\n";
  for (const auto& p : intro) s += "<p>" + html_escape(p) + "</p>\n";
  s += "<ul>";
  for (const Section& sec : sections) {
    s += fmt::format("<li><a href=\"#{}\">{}</a>{}</li>", sec.id, html_escape(sec.title),
                     sec.not_run.empty() ? "" : " (not run)");
  }
  s += "</ul>\n";
  for (const Section& sec : sections) {
    s += fmt::format("<h2 id=\"{}\">{}</h2>\n", sec.id, html_escape(sec.title));
    if (!sec.not_run.empty()) {
      s += "<p class=\"notrun\">Not run: " + html_escape(sec.not_run) + "</p>\n";
      continue;
    }
    if (!sec.caption.empty()) s += "<p>" + html_escape(sec.caption) + "</p>\n";
    if (!sec.source.empty())
      s += "<p class=\"source\">Source: " + html_escape(sec.source) + "</p>\n";
    for (const Figure& f : sec.figures) {
      const std::string png = read_file(fig_dir / (f.name + ".png"));
      s += fmt::format(
          "<figure><img alt=\"{}\" src=\"data:image/png;base64,{}\"><figcaption>fig/{}.png, "
          "numbers in "
          "fig/{}.json</figcaption></figure>\n",
          html_escape(f.title), base64(png), f.name, f.name);
    }
    for (const Table& t : sec.tables) s += table_html(t);
  }
  return s + "</body></html>\n";
}

}  // namespace cascade::report
