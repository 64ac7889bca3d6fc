// Download + unpack of GroupLens MovieLens archives (see download.h).
//
// HTTP goes through cpp-httplib's plain ClientImpl (never the TLS client); the zip is read
// with libzip. Debian's cpp-httplib is a compiled library whose header must be included
// with the same CPPHTTPLIB_* macros it was built with (they change class layouts); the
// pkg-config target supplies them, so this file must not define or undefine them itself.
#include "cascade/data/download.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <zip.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "cascade/core/error.h"

namespace fs = std::filesystem;

namespace cascade {
namespace {

struct KnownDataset {
  const char* name;
  const char* archive;
  /// Top folder inside the archive (what the "already there" check looks for).
  const char* folder;
};

constexpr std::array<KnownDataset, 7> kKnownDatasets = {{
    {"ml-100k", "ml-100k.zip", "ml-100k"},
    {"ml-1m", "ml-1m.zip", "ml-1m"},
    {"ml-10m", "ml-10m.zip", "ml-10M100K"},
    {"ml-20m", "ml-20m.zip", "ml-20m"},
    {"ml-25m", "ml-25m.zip", "ml-25m"},
    {"ml-latest-small", "ml-latest-small.zip", "ml-latest-small"},
    {"ml-latest", "ml-latest.zip", "ml-latest"},
}};

const KnownDataset& find_dataset(const std::string& dataset) {
  for (const auto& d : kKnownDatasets) {
    if (dataset == d.name) return d;
  }
  std::string names;
  for (const auto& d : kKnownDatasets) {
    if (!names.empty()) names += ", ";
    names += d.name;
  }
  throw Error("unknown MovieLens dataset '" + dataset + "'; known: " + names);
}

struct HttpUrl {
  std::string host;
  int port = 80;
  std::string path;  // starts with '/'
};

std::string manual_hint(const std::string& url, const fs::path& out_dir) {
  return "download " + url + " manually (browser, curl or wget) and unzip it into " +
         out_dir.string();
}

/// Splits http://host[:port]/path. Only http: the TLS client is deliberately not used.
HttpUrl parse_http_url(const std::string& url, const fs::path& out_dir) {
  const auto sep = url.find("://");
  if (sep == std::string::npos) {
    throw Error("download URL '" + url + "' has no scheme; expected http://host[:port]/path");
  }
  std::string scheme = url.substr(0, sep);
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (scheme == "https") {
    throw Error("https URLs are not supported (Cascade downloads over plain http only): " + url +
                "; " + manual_hint(url, out_dir));
  }
  if (scheme != "http") {
    throw Error("unsupported URL scheme '" + scheme + "' in " + url + " (only http://); " +
                manual_hint(url, out_dir));
  }
  const std::string rest = url.substr(sep + 3);
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  HttpUrl u;
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string port_text;
  if (!authority.empty() && authority.front() == '[') {  // IPv6 literal: [::1]:8080
    const auto close = authority.find(']');
    if (close == std::string::npos) throw Error("malformed IPv6 host in URL " + url);
    u.host = authority.substr(1, close - 1);
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') throw Error("malformed host:port in URL " + url);
      port_text = after.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (u.host.empty()) throw Error("no host in download URL " + url);
  if (u.host.find('@') != std::string::npos) {
    throw Error("user credentials in download URLs are not supported: " + url);
  }
  if (!port_text.empty()) {
    const bool digits = port_text.size() <= 5 &&
                        std::all_of(port_text.begin(), port_text.end(),
                                    [](unsigned char c) { return std::isdigit(c) != 0; });
    const int port = digits ? std::stoi(port_text) : 0;
    if (port < 1 || port > 65535) throw Error("bad port '" + port_text + "' in URL " + url);
    u.port = port;
  }
  return u;
}

std::string human_bytes(uint64_t n) {
  constexpr double kMiB = 1024.0 * 1024.0;
  if (n < 1024 * 1024) return std::to_string(n) + " B";
  return fmt::format("{:.1f} MiB", static_cast<double>(n) / kMiB);
}

/// Streams GET url into `part`. On any failure `part` is removed and Error thrown.
void fetch_to_file(const std::string& url, const HttpUrl& u, const fs::path& part,
                   const fs::path& out_dir, int timeout_seconds) {
  httplib::ClientImpl cli(u.host, u.port);
  cli.set_connection_timeout(timeout_seconds, 0);
  cli.set_read_timeout(timeout_seconds, 0);
  cli.set_write_timeout(timeout_seconds, 0);
  // A redirect (typically to https) is reported, not followed: see parse_http_url.
  cli.set_follow_location(false);
  // Identity encoding so the byte count can be checked against Content-Length.
  cli.set_decompress(false);
  const httplib::Headers headers = {{"Accept-Encoding", "identity"}};

  std::ofstream out(part, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("cannot write " + part.string());

  int status = 0;
  std::string location;
  uint64_t total = 0;  // Content-Length, 0 when absent
  uint64_t received = 0;
  uint64_t next_report = 0;
  uint64_t report_step = 0;
  bool write_failed = false;

  auto on_response = [&](const httplib::Response& r) {
    status = r.status;
    if (r.has_header("Location")) location = r.get_header_value("Location");
    if (r.has_header("Content-Length")) {
      try {
        total = std::stoull(r.get_header_value("Content-Length"));
      } catch (const std::exception&) {
        total = 0;
      }
    }
    // About ten progress lines for a known size, one per 16 MiB otherwise.
    report_step = total > 0 ? std::max<uint64_t>(total / 10, 1) : uint64_t{16} << 20;
    next_report = report_step;
    if (status == 200) {
      spdlog::info("downloading {} ({})", url, total > 0 ? human_bytes(total) : "size unknown");
    }
    return status == 200;  // anything else: stop before the body, reported below
  };
  auto on_data = [&](const char* data, size_t n) {
    out.write(data, static_cast<std::streamsize>(n));
    if (!out) {
      write_failed = true;
      return false;
    }
    received += n;
    if (received >= next_report) {
      if (total > 0) {
        spdlog::info("downloaded {} of {} ({:.0f}%)", human_bytes(received), human_bytes(total),
                     100.0 * static_cast<double>(received) / static_cast<double>(total));
      } else {
        spdlog::info("downloaded {}", human_bytes(received));
      }
      while (next_report <= received) next_report += report_step;
    }
    return true;
  };

  httplib::Result res = cli.Get(u.path, headers, on_response, on_data);
  out.close();

  auto fail = [&](const std::string& msg) {
    std::error_code ec;
    fs::remove(part, ec);
    throw Error(msg);
  };
  if (write_failed || (res && !out)) {
    fail("writing " + part.string() + " failed after " + std::to_string(received) +
         " bytes (disk full?)");
  }
  if (status != 0 && status != 200) {
    std::string msg = "HTTP status " + std::to_string(status) + " for " + url;
    if (status >= 300 && status < 400) {
      msg += location.empty() ? " (redirect)" : " (redirect to " + location + ")";
      msg += "; redirects are not followed; " + manual_hint(url, out_dir);
    }
    fail(msg);
  }
  if (!res) {
    const auto err = res.error();
    if (err == httplib::Error::Connection) {
      fail("cannot connect to " + u.host + ":" + std::to_string(u.port) + " to download " + url +
           " (" + httplib::to_string(err) + " error). The machine may be offline; if it is " +
           "online, check the URL or " + manual_hint(url, out_dir));
    }
    fail("downloading " + url + " failed after " + std::to_string(received) + " bytes: " +
         httplib::to_string(err) + " (the machine may be offline or the server too slow; " +
         "timeout " + std::to_string(timeout_seconds) + " s)");
  }
  if (res->status != 200) fail("HTTP status " + std::to_string(res->status) + " for " + url);
  if (total > 0 && received != total) {
    fail("download of " + url + " is truncated: " + std::to_string(received) + " of " +
         std::to_string(total) + " bytes");
  }
  spdlog::info("downloaded {} from {}", human_bytes(received), url);
}

struct ZipDiscard {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct ZipFileClose {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

struct Entry {
  zip_uint64_t index;
  fs::path rel;  // normalised, relative, no ".."
  bool is_dir;
};

/// Splits an entry name into components (both '/' and '\\' separate, so a Windows-made
/// zip cannot smuggle "..\\" past the check) and rejects absolute names and "..".
std::vector<std::string> safe_components(const std::string& name, const fs::path& archive) {
  auto reject = [&](const std::string& why) {
    throw Error("unsafe entry '" + name + "' in " + archive.string() + " (" + why +
                "); nothing was extracted");
  };
  if (name.empty()) reject("empty name");
  if (name.front() == '/' || name.front() == '\\') reject("absolute path");
  if (name.size() >= 2 && name[1] == ':') reject("drive-letter path");
  std::vector<std::string> parts;
  std::string cur;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '/' || name[i] == '\\') {
      if (cur == "..") reject("'..' component escapes the output folder");
      if (!cur.empty() && cur != ".") parts.push_back(cur);
      cur.clear();
    } else {
      cur += name[i];
    }
  }
  return parts;
}

/// Extracts every entry of `archive` under out_dir; returns out_dir/<common top folder>
/// (or out_dir when there is none). All names are validated before the first write.
fs::path extract_archive(const fs::path& archive, const fs::path& out_dir) {
  int code = 0;
  std::unique_ptr<zip_t, ZipDiscard> z(zip_open(archive.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!z) {
    zip_error_t ze;
    zip_error_init_with_code(&ze, code);
    const std::string why = zip_error_strerror(&ze);
    zip_error_fini(&ze);
    throw Error("cannot open " + archive.string() + " as a zip archive (" + why +
                "); delete it and download again");
  }
  const zip_int64_t n = zip_get_num_entries(z.get(), 0);
  std::vector<Entry> entries;
  std::string top;
  bool common_top = true;
  for (zip_int64_t i = 0; i < n; ++i) {
    const char* raw = zip_get_name(z.get(), static_cast<zip_uint64_t>(i), ZIP_FL_ENC_GUESS);
    if (raw == nullptr) {
      throw Error("cannot read entry " + std::to_string(i) + " of " + archive.string() + ": " +
                  zip_strerror(z.get()));
    }
    const std::string name = raw;
    const auto parts = safe_components(name, archive);
    if (parts.empty()) continue;         // "./" and the like
    if (parts[0] == "__MACOSX") continue;  // resource forks some zip tools add
    const bool is_dir = name.back() == '/' || name.back() == '\\';
    fs::path rel;
    for (const auto& p : parts) rel /= p;
    if (top.empty() && entries.empty()) top = parts[0];
    if (parts[0] != top || (parts.size() == 1 && !is_dir)) common_top = false;
    entries.push_back({static_cast<zip_uint64_t>(i), rel, is_dir});
  }
  if (entries.empty()) throw Error(archive.string() + " holds no files");

  std::vector<char> buf(1 << 16);
  size_t files = 0;
  for (const auto& e : entries) {
    const fs::path target = out_dir / e.rel;
    if (e.is_dir) {
      fs::create_directories(target);
      continue;
    }
    fs::create_directories(target.parent_path());
    fs::path tmp = target;
    tmp += ".cascade-tmp";
    try {
      std::unique_ptr<zip_file_t, ZipFileClose> f(zip_fopen_index(z.get(), e.index, 0));
      if (!f) {
        throw Error("cannot open entry " + e.rel.string() + " of " + archive.string() + ": " +
                    zip_strerror(z.get()));
      }
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw Error("cannot write " + tmp.string());
      zip_uint64_t written = 0;
      for (;;) {
        const zip_int64_t got = zip_fread(f.get(), buf.data(), buf.size());
        if (got < 0) {  // includes CRC mismatches, reported at the end of the entry
          throw Error("corrupt entry " + e.rel.string() + " in " + archive.string() + ": " +
                      zip_file_strerror(f.get()) + "; delete the archive and download again");
        }
        if (got == 0) break;
        out.write(buf.data(), static_cast<std::streamsize>(got));
        written += static_cast<zip_uint64_t>(got);
      }
      out.close();
      if (!out) throw Error("writing " + tmp.string() + " failed (disk full?)");
      zip_stat_t st;
      zip_stat_init(&st);
      if (zip_stat_index(z.get(), e.index, 0, &st) == 0 && (st.valid & ZIP_STAT_SIZE) &&
          st.size != written) {
        throw Error("entry " + e.rel.string() + " of " + archive.string() + " is truncated");
      }
      fs::rename(tmp, target);
    } catch (...) {
      std::error_code ec;
      fs::remove(tmp, ec);
      throw;
    }
    ++files;
  }
  const fs::path folder = common_top ? out_dir / top : out_dir;
  spdlog::info("extracted {} files from {} into {}", files, archive.string(), folder.string());
  return folder;
}

bool holds_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return false;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) return true;
  }
  return false;
}

}  // namespace

std::string dataset_archive_name(const std::string& dataset) {
  return find_dataset(dataset).archive;
}

fs::path download_dataset(const std::string& dataset, const fs::path& out_dir,
                          const DownloadOptions& options) {
  const KnownDataset& known = find_dataset(dataset);
  std::string base = options.base_url;
  if (!base.empty() && base.back() != '/') base += '/';
  const std::string url = base + known.archive;
  const HttpUrl u = parse_http_url(url, out_dir);  // before any disk access: fail fast
  CASCADE_CHECK(options.timeout_seconds > 0, "DownloadOptions::timeout_seconds must be > 0");

  try {
    const fs::path existing = out_dir / known.folder;
    if (holds_files(existing)) {
      spdlog::info("{} already exists and holds files; skipping the download of {}",
                   existing.string(), url);
      return existing;
    }
    fs::create_directories(out_dir);
    const fs::path zip_path = out_dir / known.archive;
    if (fs::is_regular_file(zip_path)) {
      // Only a complete 200 download is ever renamed to this name.
      spdlog::info("{} is already downloaded; extracting it", zip_path.string());
    } else {
      fs::path part = zip_path;
      part += ".part";
      fetch_to_file(url, u, part, out_dir, options.timeout_seconds);
      fs::rename(part, zip_path);
    }
    return extract_archive(zip_path, out_dir);
  } catch (const fs::filesystem_error& e) {
    throw Error("download of " + dataset + " into " + out_dir.string() + ": " + e.what());
  }
}

}  // namespace cascade
