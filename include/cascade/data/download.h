// Downloading and unpacking a GroupLens MovieLens archive (for users who are online).
//
// Plain http only: Cascade is built without TLS on the client side, so an https URL is
// rejected with an error that names the URL and asks the user to download it by hand.
// The archive is streamed to `<out_dir>/<archive>.part`, renamed to `<out_dir>/<archive>`
// once the whole body arrived with status 200, then every entry is extracted under
// out_dir (each file written to a temp name and renamed, so a crash never leaves a
// half-written data file under its real name). Entry names are all checked before anything
// is written: an absolute path or a `..` component (zip-slip) rejects the whole archive.
#pragma once

#include <filesystem>
#include <string>

namespace cascade {

struct DownloadOptions {
  /// Prefix the archive name is appended to ("/" is inserted if missing). http:// only.
  std::string base_url = "http://files.grouplens.org/datasets/movielens/";
  /// Connect and read timeout, each, in seconds (a read timeout is per receive, not for the
  /// whole body).
  int timeout_seconds = 60;
};

/// The GroupLens archive file of a dataset: "ml-100k" -> "ml-100k.zip"; known names are
/// ml-100k, ml-1m, ml-10m, ml-20m, ml-25m, ml-latest-small, ml-latest. Throws
/// cascade::Error listing the known names otherwise.
std::string dataset_archive_name(const std::string& dataset);

/// Downloads `options.base_url + dataset_archive_name(dataset)` into out_dir (created if
/// missing) and extracts it there; returns the dataset folder, out_dir/<top folder of the
/// zip> (e.g. out_dir/ml-100k; ml-10m unpacks to ml-10M100K), or out_dir itself when the
/// entries do not share one top folder.
/// Skips the download when that folder already exists and holds files, and skips the
/// network (extracting only) when `<out_dir>/<archive>` is already there from an earlier,
/// complete download.
/// Throws cascade::Error for: an unknown dataset, a non-http URL, a connection failure
/// (naming the URL; the machine may be offline), a status other than 200 (naming status
/// and URL), a body shorter than its Content-Length, an archive libzip cannot read, an
/// unsafe entry name, and any file system failure.
std::filesystem::path download_dataset(const std::string& dataset,
                                       const std::filesystem::path& out_dir,
                                       const DownloadOptions& options = {});

}  // namespace cascade
