// download_dataset against a local httplib::Server on 127.0.0.1 (no internet needed):
// a zip built here with libzip is served, fetched and extracted; plus the error cases
// (404, redirect, unreachable port, https, not-a-zip, zip-slip) and the name mapping.
// Every server is stopped and its thread joined by TestServer's destructor.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "cascade/core/error.h"
#include "cascade/data/download.h"
#include "support/test_util.h"

namespace fs = std::filesystem;

namespace cascade {
namespace {
using test::error_of;

/// An httplib::Server on 127.0.0.1:<any free port>, listening in its own thread from
/// construction to destruction. Routes are installed by `setup` before the thread starts
/// (adding them to a running server would race).
class TestServer {
 public:
  explicit TestServer(const std::function<void(httplib::Server&)>& setup) {
    setup(svr_);
    port_ = svr_.bind_to_any_port("127.0.0.1");
    if (port_ > 0) {
      thread_ = std::thread([this] {
        svr_.listen_after_bind();
        done_ = true;
      });
    }
  }
  ~TestServer() {
    if (!thread_.joinable()) return;
    // stop() is a no-op until the accept loop runs; wait for it (or for a failed listen).
    while (!svr_.is_running() && !done_) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    svr_.stop();
    thread_.join();
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  int port() const { return port_; }
  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

 private:
  httplib::Server svr_;
  std::thread thread_;
  std::atomic<bool> done_{false};
  int port_ = -1;
};

/// Writes a zip with the given (name, content) entries; a name ending in '/' is a folder.
void make_zip(const fs::path& path, const std::vector<std::pair<std::string, std::string>>& entries) {
  int err = 0;
  zip_t* z = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &err);
  ASSERT_NE(z, nullptr) << "zip_open error " << err;
  for (const auto& [name, content] : entries) {
    if (!name.empty() && name.back() == '/') {
      ASSERT_GE(zip_dir_add(z, name.substr(0, name.size() - 1).c_str(), ZIP_FL_ENC_UTF_8), 0)
          << zip_strerror(z);
      continue;
    }
    // The buffer is read at zip_close; `entries` outlives it.
    zip_source_t* src = zip_source_buffer(z, content.data(), content.size(), 0);
    ASSERT_NE(src, nullptr);
    if (zip_file_add(z, name.c_str(), src, ZIP_FL_OVERWRITE | ZIP_FL_ENC_UTF_8) < 0) {
      zip_source_free(src);
      FAIL() << "zip_file_add(" << name << "): " << zip_strerror(z);
    }
  }
  ASSERT_EQ(zip_close(z), 0) << zip_strerror(z);
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// A 127.0.0.1 port nobody listens on: bound by the kernel, then released.
int closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  ::close(fd);
  return port;
}

const std::string kUData = "1\t10\t5\t800000100\n2\t20\t3\t800000200\n";  // invented rows

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    tmp_ = fs::temp_directory_path() /
           ("cascade_download_" + std::to_string(::getpid()) + "_" + info->name());
    fs::remove_all(tmp_);
    fs::create_directories(tmp_);
    out_ = tmp_ / "out";
  }
  void TearDown() override { fs::remove_all(tmp_); }

  /// The bytes of a zip with the given entries (built in tmp_).
  std::string zip_bytes(const std::vector<std::pair<std::string, std::string>>& entries) {
    const fs::path p = tmp_ / "fixture.zip";
    make_zip(p, entries);
    std::string bytes = slurp(p);
    fs::remove(p);
    return bytes;
  }

  /// A server answering GET /ml-100k.zip with `body` (200) and counting the requests.
  std::function<void(httplib::Server&)> serve(std::string body) {
    return [this, body = std::move(body)](httplib::Server& s) {
      s.Get("/ml-100k.zip", [this, body](const httplib::Request&, httplib::Response& res) {
        ++hits_;
        res.set_content(body, "application/zip");
      });
    };
  }

  fs::path tmp_;
  fs::path out_;
  std::atomic<int> hits_{0};
};

TEST(DownloadArchiveName, MapsEveryKnownDataset) {
  EXPECT_EQ(dataset_archive_name("ml-100k"), "ml-100k.zip");
  EXPECT_EQ(dataset_archive_name("ml-1m"), "ml-1m.zip");
  EXPECT_EQ(dataset_archive_name("ml-10m"), "ml-10m.zip");
  EXPECT_EQ(dataset_archive_name("ml-20m"), "ml-20m.zip");
  EXPECT_EQ(dataset_archive_name("ml-25m"), "ml-25m.zip");
  EXPECT_EQ(dataset_archive_name("ml-latest-small"), "ml-latest-small.zip");
  EXPECT_EQ(dataset_archive_name("ml-latest"), "ml-latest.zip");
}

TEST(DownloadArchiveName, UnknownNameListsKnownOnes) {
  const std::string msg = error_of([] { dataset_archive_name("ml-5k"); });
  EXPECT_NE(msg.find("ml-5k"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ml-100k"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ml-latest-small"), std::string::npos) << msg;
  EXPECT_NE(msg.find("ml-25m"), std::string::npos) << msg;
  // Case matters: GroupLens names are lower case.
  EXPECT_FALSE(error_of([] { dataset_archive_name("ML-100K"); }).empty());
}

TEST_F(DownloadTest, FetchesAndExtracts) {
  const std::string readme = "MovieLens test fixture\n";
  TestServer server(serve(zip_bytes({{"ml-100k/", ""}, {"ml-100k/u.data", kUData},
                                     {"ml-100k/README", readme}})));
  ASSERT_GT(server.port(), 0);
  DownloadOptions opt;
  opt.base_url = server.base_url();
  opt.timeout_seconds = 5;
  const fs::path folder = download_dataset("ml-100k", out_, opt);
  EXPECT_EQ(folder, out_ / "ml-100k");
  EXPECT_EQ(slurp(folder / "u.data"), kUData);
  EXPECT_EQ(slurp(folder / "README"), readme);
  EXPECT_EQ(hits_.load(), 1);
  EXPECT_TRUE(fs::is_regular_file(out_ / "ml-100k.zip"));
  // No temp file survives: only the archive and the folder, and only the two files in it.
  std::vector<std::string> top;
  for (const auto& e : fs::directory_iterator(out_)) top.push_back(e.path().filename().string());
  std::sort(top.begin(), top.end());
  EXPECT_EQ(top, (std::vector<std::string>{"ml-100k", "ml-100k.zip"}));
  size_t files = 0;
  for (const auto& e : fs::directory_iterator(folder)) files += e.is_regular_file() ? 1 : 0;
  EXPECT_EQ(files, 2u);
}

TEST_F(DownloadTest, SkipsWhenTheFolderAlreadyHoldsFiles) {
  TestServer server(serve(zip_bytes({{"ml-100k/u.data", kUData}})));
  ASSERT_GT(server.port(), 0);
  DownloadOptions opt;
  // No trailing slash: one is inserted.
  opt.base_url = "http://127.0.0.1:" + std::to_string(server.port());
  opt.timeout_seconds = 5;
  const fs::path first = download_dataset("ml-100k", out_, opt);
  ASSERT_EQ(hits_.load(), 1);
  // Even with the archive gone, the filled folder means no second request and no rewrite.
  fs::remove(out_ / "ml-100k.zip");
  std::ofstream(first / "u.data", std::ios::trunc) << "edited\n";
  const fs::path second = download_dataset("ml-100k", out_, opt);
  EXPECT_EQ(second, first);
  EXPECT_EQ(hits_.load(), 1);
  EXPECT_EQ(slurp(second / "u.data"), "edited\n");
  EXPECT_FALSE(fs::exists(out_ / "ml-100k.zip"));
}

TEST_F(DownloadTest, ReusesACompleteArchiveWithoutTheNetwork) {
  fs::create_directories(out_);
  make_zip(out_ / "ml-100k.zip", {{"ml-100k/u.data", kUData}});
  DownloadOptions opt;
  opt.base_url = "http://127.0.0.1:" + std::to_string(closed_port()) + "/";
  const fs::path folder = download_dataset("ml-100k", out_, opt);
  EXPECT_EQ(slurp(folder / "u.data"), kUData);
}

TEST_F(DownloadTest, NotFoundNamesTheStatusAndUrl) {
  TestServer server([](httplib::Server&) {});  // no routes: every GET is a 404
  ASSERT_GT(server.port(), 0);
  DownloadOptions opt;
  opt.base_url = server.base_url();
  opt.timeout_seconds = 5;
  const std::string msg = error_of([&] { download_dataset("ml-1m", out_, opt); });
  EXPECT_NE(msg.find("404"), std::string::npos) << msg;
  EXPECT_NE(msg.find(server.base_url() + "ml-1m.zip"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(out_ / "ml-1m.zip"));
  EXPECT_FALSE(fs::exists(out_ / "ml-1m.zip.part"));
}

TEST_F(DownloadTest, RedirectIsReportedNotFollowed) {
  TestServer server([](httplib::Server& s) {
    s.Get("/ml-100k.zip", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("https://example.invalid/ml-100k.zip", 301);
    });
  });
  ASSERT_GT(server.port(), 0);
  DownloadOptions opt;
  opt.base_url = server.base_url();
  opt.timeout_seconds = 5;
  const std::string msg = error_of([&] { download_dataset("ml-100k", out_, opt); });
  EXPECT_NE(msg.find("301"), std::string::npos) << msg;
  EXPECT_NE(msg.find("https://example.invalid/ml-100k.zip"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(out_ / "ml-100k"));
}

TEST_F(DownloadTest, UnreachablePortSaysOffline) {
  const int port = closed_port();
  ASSERT_GT(port, 0);
  DownloadOptions opt;
  opt.base_url = "http://127.0.0.1:" + std::to_string(port) + "/";
  opt.timeout_seconds = 2;
  const std::string msg = error_of([&] { download_dataset("ml-100k", out_, opt); });
  EXPECT_NE(msg.find(opt.base_url + "ml-100k.zip"), std::string::npos) << msg;
  EXPECT_NE(msg.find("offline"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(out_ / "ml-100k.zip.part"));
}

TEST_F(DownloadTest, HttpsAndOtherSchemesAreRejectedBeforeAnyIo) {
  DownloadOptions opt;
  opt.base_url = "https://files.grouplens.org/datasets/movielens/";
  const std::string msg = error_of([&] { download_dataset("ml-100k", out_, opt); });
  EXPECT_NE(msg.find("https"), std::string::npos) << msg;
  EXPECT_NE(msg.find("https://files.grouplens.org/datasets/movielens/ml-100k.zip"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("manually"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(out_));  // failed before touching the disk

  opt.base_url = "ftp://127.0.0.1/";
  EXPECT_NE(error_of([&] { download_dataset("ml-100k", out_, opt); }).find("ftp"),
            std::string::npos);
  opt.base_url = "127.0.0.1/no-scheme/";
  EXPECT_FALSE(error_of([&] { download_dataset("ml-100k", out_, opt); }).empty());
  opt.base_url = "http://127.0.0.1:99999/";
  EXPECT_NE(error_of([&] { download_dataset("ml-100k", out_, opt); }).find("99999"),
            std::string::npos);
}

TEST_F(DownloadTest, ZipSlipEntryIsRejectedAndNothingIsWritten) {
  TestServer server(serve(zip_bytes({{"ml-100k/u.data", kUData}, {"../evil", "pwned\n"}})));
  ASSERT_GT(server.port(), 0);
  DownloadOptions opt;
  opt.base_url = server.base_url();
  opt.timeout_seconds = 5;
  const std::string msg = error_of([&] { download_dataset("ml-100k", out_, opt); });
  EXPECT_NE(msg.find("../evil"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(tmp_ / "evil"));  // out_/../evil
  EXPECT_FALSE(fs::exists(out_ / "evil"));
  // Names are all checked before the first write, so even the safe entry is not there.
  EXPECT_FALSE(fs::exists(out_ / "ml-100k" / "u.data"));
}

TEST_F(DownloadTest, AbsoluteAndBackslashEntriesAreRejected) {
  for (const std::string& name : {std::string("/tmp/cascade_download_abs_evil"),
                                 std::string("ml-100k\\..\\..\\evil2")}) {
    fs::remove_all(out_);
    fs::create_directories(out_);
    make_zip(out_ / "ml-100k.zip", {{"ml-100k/u.data", kUData}, {name, "pwned\n"}});
    const std::string msg = error_of([&] { download_dataset("ml-100k", out_, DownloadOptions{}); });
    EXPECT_NE(msg.find("unsafe"), std::string::npos) << name << ": " << msg;
    EXPECT_FALSE(fs::exists(out_ / "ml-100k" / "u.data")) << name;
  }
  EXPECT_FALSE(fs::exists("/tmp/cascade_download_abs_evil"));
  EXPECT_FALSE(fs::exists(tmp_ / "evil2"));
}

TEST_F(DownloadTest, BodyThatIsNotAZipIsAClearError) {
  TestServer server(serve("this is not a zip archive"));
  ASSERT_GT(server.port(), 0);
  DownloadOptions opt;
  opt.base_url = server.base_url();
  opt.timeout_seconds = 5;
  const std::string msg = error_of([&] { download_dataset("ml-100k", out_, opt); });
  EXPECT_NE(msg.find("zip"), std::string::npos) << msg;
  EXPECT_NE(msg.find((out_ / "ml-100k.zip").string()), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(out_ / "ml-100k"));
}

}  // namespace
}  // namespace cascade
