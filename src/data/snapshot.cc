// Binary dataset snapshots (layout in include/cascade/data/snapshot.h).
//
// The payload is produced by one serializer that writes into a Sink: a counter (to size
// sections and the file before writing), a buffer (save) or a streaming XXH3 state
// (dataset_content_hash), so the three can never disagree. Loading reads the whole file
// with one read(), checks header, sizes and hashes, then copies arrays with memcpy.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string_view>
#include <type_traits>

#include "cascade/core/error.h"
#include "cascade/data/snapshot.h"
#include "cascade/io/artifact.h"

namespace fs = std::filesystem;

namespace cascade {

namespace {

constexpr char kMagic[8] = {'C', 'A', 'S', 'C', 'S', 'N', 'A', 'P'};
constexpr uint32_t kByteOrderMark = 0x01020304;
constexpr size_t kHashChars = 32;
constexpr size_t kHeaderBytes = 8 + 4 + 4 + 8 + 8 + kHashChars + kHashChars;  // 96

// ------------------------------------------------------------------------------------------
// Writing

class Sink {
 public:
  virtual ~Sink() = default;
  virtual void write(const void* p, size_t n) = 0;

  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    write(&v, sizeof(T));
  }
  /// u64 element count, then the raw elements.
  template <class T>
  void put_array(const T* data, size_t count) {
    put<uint64_t>(count);
    if (count > 0) write(data, count * sizeof(T));
  }
  template <class T>
  void put_array(const std::vector<T>& v) {
    put_array(v.data(), v.size());
  }
  void put_string(const std::string& s) { put_array(s.data(), s.size()); }
  /// A string list: u64 count, u64 offsets[count + 1] into the blob, u64 blob size, blob.
  template <class Get>
  void put_strings(size_t count, Get get) {
    put<uint64_t>(count);
    uint64_t off = 0;
    put<uint64_t>(off);
    for (size_t i = 0; i < count; ++i) {
      off += get(i).size();
      put<uint64_t>(off);
    }
    put<uint64_t>(off);
    for (size_t i = 0; i < count; ++i) {
      const std::string& s = get(i);
      if (!s.empty()) write(s.data(), s.size());
    }
  }
  void put_strings(const std::vector<std::string>& v) {
    put_strings(v.size(), [&](size_t i) -> const std::string& { return v[i]; });
  }
};

class CountSink final : public Sink {
 public:
  void write(const void*, size_t n) override { bytes += n; }
  uint64_t bytes = 0;
};

class BufferSink final : public Sink {
 public:
  explicit BufferSink(std::string& buf) : buf_(buf) {}
  void write(const void* p, size_t n) override { buf_.append(static_cast<const char*>(p), n); }

 private:
  std::string& buf_;
};

class HashSink final : public Sink {
 public:
  HashSink() : st_(XXH3_createState()) {
    if (st_ == nullptr) throw Error("out of memory creating a hash state");
    XXH3_128bits_reset(st_);
  }
  ~HashSink() override { XXH3_freeState(st_); }
  HashSink(const HashSink&) = delete;
  HashSink& operator=(const HashSink&) = delete;
  void write(const void* p, size_t n) override { XXH3_128bits_update(st_, p, n); }
  /// Same format as hash_hex() (io/artifact.h).
  std::string hex() const {
    XXH128_hash_t h = XXH3_128bits_digest(st_);
    return fmt::format("{:016x}{:016x}", h.high64, h.low64);
  }

 private:
  XXH3_state_t* st_;
};

/// Writes one section: u32 name length, name, u64 body length, body. `body(sink)` is called
/// twice (once to measure).
template <class Body>
void put_section(Sink& out, std::string_view name, Body body) {
  CountSink count;
  body(count);
  out.put<uint32_t>(static_cast<uint32_t>(name.size()));
  out.write(name.data(), name.size());
  out.put<uint64_t>(count.bytes);
  body(out);
}

void put_interactions(Sink& s, const Interactions& m) {
  s.put<uint32_t>(m.n_rows);
  s.put<uint32_t>(m.n_cols);
  s.put_array(m.indptr);
  s.put_array(m.indices);
  s.put_array(m.values);
  s.put_array(m.times);
}

void put_payload(Sink& s, const Dataset& ds) {
  put_section(s, "options", [&](Sink& o) {
    o.put_string(ds.name);
    o.put<uint32_t>(static_cast<uint32_t>(ds.options.protocol));
    o.put<float>(ds.options.min_rating);
    o.put<uint32_t>(ds.options.min_positives);
    o.put<double>(ds.options.oof_fraction);
    o.put<double>(ds.options.time_train);
    o.put<double>(ds.options.time_valid);
    o.put<uint32_t>(ds.n_users);
    o.put<uint32_t>(ds.n_items);
  });
  put_section(s, "user_ids", [&](Sink& o) { o.put_strings(ds.user_ids); });
  put_section(s, "item_ids", [&](Sink& o) { o.put_strings(ds.item_ids); });
  put_section(s, "train", [&](Sink& o) { put_interactions(o, ds.train); });
  put_section(s, "valid", [&](Sink& o) { put_interactions(o, ds.valid); });
  put_section(s, "test", [&](Sink& o) { put_interactions(o, ds.test); });
  put_section(s, "recall_rows", [&](Sink& o) { o.put_array(ds.recall_rows); });
  // Only with keep_seen, so the content hash of a dataset without seen events is what it was
  // before seen events existed (caches and bundles stay valid).
  if (ds.options.keep_seen) {
    put_section(s, "seen", [&](Sink& o) {
      put_interactions(o, ds.seen);
      o.put_array(ds.seen_after);
    });
  }
  put_section(s, "catalog", [&](Sink& o) {
    const Catalog& c = ds.catalog;
    o.put_strings(c.genre_names);
    o.put_strings(c.tag_names);
    // Items, column-wise: titles, years, genres (CSR), tags (CSR).
    const size_t ni = c.items.size();
    o.put<uint64_t>(ni);
    o.put_strings(ni, [&](size_t i) -> const std::string& { return c.items[i].title; });
    for (const ItemInfo& it : c.items) o.put<int32_t>(it.year);
    uint64_t off = 0;
    o.put<uint64_t>(off);
    for (const ItemInfo& it : c.items) o.put<uint64_t>(off += it.genres.size());
    for (const ItemInfo& it : c.items) {
      if (!it.genres.empty()) o.write(it.genres.data(), it.genres.size() * sizeof(uint16_t));
    }
    off = 0;
    o.put<uint64_t>(off);
    for (const ItemInfo& it : c.items) o.put<uint64_t>(off += it.tags.size());
    for (const ItemInfo& it : c.items) {
      if (!it.tags.empty()) o.write(it.tags.data(), it.tags.size() * sizeof(uint32_t));
    }
    // Users, column-wise.
    const size_t nu = c.users.size();
    o.put<uint64_t>(nu);
    for (const UserInfo& u : c.users) o.put<char>(u.gender);
    for (const UserInfo& u : c.users) o.put<int32_t>(u.age);
    for (const UserInfo& u : c.users) o.put<int32_t>(u.age_bucket);
    o.put_strings(nu, [&](size_t i) -> const std::string& { return c.users[i].occupation; });
  });
}

void put_provenance(Sink& s, const Dataset& ds) {
  put_section(s, "source", [&](Sink& o) { o.put_string(ds.source); });
}

void put_bytes(std::string& buf, size_t at, const void* p, size_t n) { std::memcpy(buf.data() + at, p, n); }

// ------------------------------------------------------------------------------------------
// Reading

/// Bounds-checked cursor over one section; errors name the file and the section.
class Reader {
 public:
  Reader(const std::string& file, std::string_view section, const char* p, size_t n)
      : file_(file), section_(section), p_(p), end_(p + n) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("{}: corrupt snapshot section '{}': {}", file_, section_, what));
  }
  size_t left() const { return static_cast<size_t>(end_ - p_); }
  void need(uint64_t n, const char* what) const {
    if (n > left()) fail(fmt::format("{} needs {} bytes, {} left", what, n, left()));
  }
  template <class T>
  T get(const char* what) {
    need(sizeof(T), what);
    T v;
    std::memcpy(&v, p_, sizeof(T));
    p_ += sizeof(T);
    return v;
  }
  /// Raw view of `count` elements of T (no alignment assumed; copy with memcpy).
  const char* take(uint64_t count, size_t elem, const char* what) {
    if (elem != 0 && count > left() / elem) fail(fmt::format("{}: {} elements do not fit in {} bytes", what, count, left()));
    const char* p = p_;
    p_ += count * elem;
    return p;
  }
  template <class T>
  void get_raw(std::vector<T>& out, uint64_t count, const char* what) {
    const char* p = take(count, sizeof(T), what);
    out.resize(count);
    if (count > 0) std::memcpy(out.data(), p, count * sizeof(T));
  }
  template <class T>
  std::vector<T> get_array(const char* what) {
    std::vector<T> out;
    get_raw(out, get<uint64_t>(what), what);
    return out;
  }
  std::string get_string(const char* what) {
    uint64_t n = get<uint64_t>(what);
    const char* p = take(n, 1, what);
    return std::string(p, n);
  }
  /// Offsets array of count + 1 non-decreasing entries starting at 0; returns the last one.
  std::vector<uint64_t> get_offsets(uint64_t count, const char* what) {
    if (count >= left() / sizeof(uint64_t)) fail(fmt::format("{}: {} offsets do not fit", what, count));
    std::vector<uint64_t> off;
    get_raw(off, count + 1, what);
    if (off[0] != 0) fail(fmt::format("{}: offsets do not start at 0", what));
    for (uint64_t i = 0; i < count; ++i) {
      if (off[i + 1] < off[i]) fail(fmt::format("{}: offsets decrease at {}", what, i));
    }
    return off;
  }
  std::vector<std::string> get_strings(const char* what) {
    const uint64_t count = get<uint64_t>(what);
    std::vector<uint64_t> off = get_offsets(count, what);
    const uint64_t blob = get<uint64_t>(what);
    if (blob != off[count]) fail(fmt::format("{}: blob size {} disagrees with offsets ({})", what, blob, off[count]));
    const char* p = take(blob, 1, what);
    std::vector<std::string> out(count);
    for (uint64_t i = 0; i < count; ++i) out[i].assign(p + off[i], off[i + 1] - off[i]);
    return out;
  }
  /// A string list that must hold `count` entries.
  std::vector<std::string> get_strings(uint64_t count, const char* what) {
    std::vector<std::string> out = get_strings(what);
    if (out.size() != count) fail(fmt::format("{}: {} entries, expected {}", what, out.size(), count));
    return out;
  }
  void expect_end() const {
    if (left() != 0) fail(fmt::format("{} unexpected trailing bytes", left()));
  }

 private:
  const std::string& file_;
  std::string_view section_;
  const char* p_;
  const char* end_;
};

/// Splits a block into named sections; unknown names are kept (and ignored by the decoder),
/// so a later writer may add sections without breaking this reader.
std::map<std::string, std::string_view, std::less<>> split_sections(const std::string& file, std::string_view block,
                                                                    const char* what) {
  std::map<std::string, std::string_view, std::less<>> out;
  Reader r(file, what, block.data(), block.size());
  while (r.left() > 0) {
    const uint32_t name_len = r.get<uint32_t>("section name length");
    const char* np = r.take(name_len, 1, "section name");
    std::string name(np, name_len);
    const uint64_t len = r.get<uint64_t>("section length");
    const char* body = r.take(len, 1, "section body");
    if (!out.emplace(name, std::string_view(body, len)).second) r.fail(fmt::format("section '{}' appears twice", name));
  }
  return out;
}

Interactions get_interactions(Reader& r) {
  Interactions m;
  m.n_rows = r.get<uint32_t>("n_rows");
  m.n_cols = r.get<uint32_t>("n_cols");
  m.indptr = r.get_array<uint64_t>("indptr");
  m.indices = r.get_array<uint32_t>("indices");
  m.values = r.get_array<float>("values");
  m.times = r.get_array<int64_t>("times");
  return m;
}

std::string read_whole_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) throw Error(fmt::format("cannot open snapshot {}: {}", path.string(), std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    throw Error(fmt::format("cannot stat snapshot {}: {}", path.string(), std::strerror(e)));
  }
  std::string buf(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::read(fd, buf.data() + done, buf.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int e = n < 0 ? errno : 0;
      ::close(fd);
      throw Error(fmt::format("cannot read snapshot {}: {}", path.string(), e ? std::strerror(e) : "file shrank"));
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return buf;
}

std::string tsv_ids(const std::vector<std::string>& ids) {
  std::string out = "dense\traw\n";
  out.reserve(out.size() + ids.size() * 12);
  for (size_t i = 0; i < ids.size(); ++i) {
    out += std::to_string(i);
    out += '\t';
    out += ids[i];
    out += '\n';
  }
  return out;
}

}  // namespace

std::string dataset_content_hash(const Dataset& ds) {
  HashSink h;
  put_payload(h, ds);
  return h.hex();
}

void save_snapshot(Dataset& ds, const std::string& dir) {
  const fs::path d(dir);
  CountSink payload_count, prov_count;
  put_payload(payload_count, ds);
  put_provenance(prov_count, ds);

  std::string buf;
  buf.reserve(kHeaderBytes + payload_count.bytes + prov_count.bytes);
  buf.resize(kHeaderBytes);
  BufferSink out(buf);
  put_payload(out, ds);
  put_provenance(out, ds);
  if (buf.size() != kHeaderBytes + payload_count.bytes + prov_count.bytes) {
    throw Error("internal error: snapshot serializer wrote a different size than it measured");
  }
  const std::string content = hash_hex(std::string_view(buf).substr(kHeaderBytes, payload_count.bytes));
  const std::string prov = hash_hex(std::string_view(buf).substr(kHeaderBytes + payload_count.bytes));
  size_t at = 0;
  put_bytes(buf, at, kMagic, 8), at += 8;
  put_bytes(buf, at, &kSnapshotFormatVersion, 4), at += 4;
  put_bytes(buf, at, &kByteOrderMark, 4), at += 4;
  put_bytes(buf, at, &payload_count.bytes, 8), at += 8;
  put_bytes(buf, at, &prov_count.bytes, 8), at += 8;
  put_bytes(buf, at, content.data(), kHashChars), at += kHashChars;
  put_bytes(buf, at, prov.data(), kHashChars);
  ds.content_hash = content;

  // Side files first, the snapshot last: a present dataset.snap implies complete side files.
  write_file_atomic(d / "user_ids.tsv", tsv_ids(ds.user_ids));
  write_file_atomic(d / "item_ids.tsv", tsv_ids(ds.item_ids));
  nlohmann::json s;
  s["name"] = ds.name;
  s["source"] = ds.source;
  s["protocol"] = protocol_name(ds.options.protocol);
  s["options"] = {
      {"min_rating", ds.options.min_rating},     {"min_positives", ds.options.min_positives},
      {"oof_fraction", ds.options.oof_fraction}, {"time_train", ds.options.time_train},
      {"time_valid", ds.options.time_valid},     {"keep_seen", ds.options.keep_seen}};
  s["users"] = ds.n_users;
  s["items"] = ds.n_items;
  s["train_rows"] = ds.train.nnz();
  s["valid_rows"] = ds.valid.nnz();
  s["test_rows"] = ds.test.nnz();
  if (ds.options.keep_seen) s["seen_rows"] = ds.seen.nnz();
  if (ds.options.protocol == Protocol::kSeedOof) {
    uint64_t recall = 0;
    for (uint32_t r : ds.recall_rows) recall += r;
    s["recall_slice_rows"] = recall;
    s["ranker_slice_rows"] = ds.train.nnz() - recall;
  }
  s["content_hash"] = ds.content_hash;
  s["snapshot_format_version"] = kSnapshotFormatVersion;
  s["snapshot_bytes"] = buf.size();
  write_file_atomic(d / "summary.json", s.dump(2) + "\n");
  write_file_atomic(d / "dataset.snap", buf);
}

Dataset load_snapshot(const std::string& path) {
  fs::path file(path);
  std::error_code ec;
  if (fs::is_directory(file, ec)) file /= "dataset.snap";
  const std::string fname = file.string();
  const std::string buf = read_whole_file(file);

  if (buf.size() < kHeaderBytes) {
    throw Error(fmt::format("{}: truncated snapshot ({} bytes; the header alone is {})", fname, buf.size(), kHeaderBytes));
  }
  if (std::memcmp(buf.data(), kMagic, 8) != 0) throw Error(fmt::format("{}: not a Cascade snapshot (bad magic)", fname));
  uint32_t version = 0, bom = 0;
  uint64_t payload_bytes = 0, prov_bytes = 0;
  std::memcpy(&version, buf.data() + 8, 4);
  std::memcpy(&bom, buf.data() + 12, 4);
  std::memcpy(&payload_bytes, buf.data() + 16, 8);
  std::memcpy(&prov_bytes, buf.data() + 24, 8);
  if (bom != kByteOrderMark) throw Error(fmt::format("{}: snapshot written with another byte order", fname));
  if (version != kSnapshotFormatVersion) {
    throw Error(fmt::format("{}: snapshot format version {}, this build reads version {}; re-run `cascade prepare`",
                            fname, version, kSnapshotFormatVersion));
  }
  const uint64_t body = buf.size() - kHeaderBytes;
  if (payload_bytes > body || prov_bytes != body - payload_bytes) {
    throw Error(fmt::format("{}: {} snapshot: the header announces {} bytes, the file has {}", fname,
                            payload_bytes + prov_bytes > body ? "truncated" : "corrupt",
                            kHeaderBytes + payload_bytes + prov_bytes, buf.size()));
  }
  const std::string stored(buf.data() + 32, kHashChars), stored_prov(buf.data() + 64, kHashChars);
  const std::string_view payload = std::string_view(buf).substr(kHeaderBytes, payload_bytes);
  const std::string_view provenance = std::string_view(buf).substr(kHeaderBytes + payload_bytes);
  const std::string actual = hash_hex(payload);
  if (actual != stored) {
    throw Error(fmt::format("{}: snapshot content hash mismatch (header {}, content {}): the file is corrupt; re-run "
                            "`cascade prepare`",
                            fname, stored, actual));
  }
  if (hash_hex(provenance) != stored_prov) {
    throw Error(fmt::format("{}: snapshot provenance block hash mismatch: the file is corrupt", fname));
  }

  Dataset ds;
  ds.content_hash = actual;
  auto sections = split_sections(fname, payload, "payload");
  auto section = [&](const char* name) {
    auto it = sections.find(name);
    if (it == sections.end()) throw Error(fmt::format("{}: snapshot lacks section '{}'", fname, name));
    return Reader(fname, name, it->second.data(), it->second.size());
  };
  {
    Reader r = section("options");
    ds.name = r.get_string("name");
    const uint32_t p = r.get<uint32_t>("protocol");
    if (p > static_cast<uint32_t>(Protocol::kTime)) r.fail(fmt::format("unknown protocol value {}", p));
    ds.options.protocol = static_cast<Protocol>(p);
    ds.options.min_rating = r.get<float>("min_rating");
    ds.options.min_positives = r.get<uint32_t>("min_positives");
    ds.options.oof_fraction = r.get<double>("oof_fraction");
    ds.options.time_train = r.get<double>("time_train");
    ds.options.time_valid = r.get<double>("time_valid");
    ds.n_users = r.get<uint32_t>("n_users");
    ds.n_items = r.get<uint32_t>("n_items");
    r.expect_end();
  }
  {
    Reader r = section("user_ids");
    ds.user_ids = r.get_strings("user ids");
    r.expect_end();
    if (ds.user_ids.size() != ds.n_users) r.fail(fmt::format("{} ids for {} users", ds.user_ids.size(), ds.n_users));
  }
  {
    Reader r = section("item_ids");
    ds.item_ids = r.get_strings("item ids");
    r.expect_end();
    if (ds.item_ids.size() != ds.n_items) r.fail(fmt::format("{} ids for {} items", ds.item_ids.size(), ds.n_items));
  }
  for (auto [name, m] : {std::pair{"train", &ds.train}, std::pair{"valid", &ds.valid}, std::pair{"test", &ds.test}}) {
    Reader r = section(name);
    *m = get_interactions(r);
    r.expect_end();
    if (m->n_rows != ds.n_users || m->n_cols != ds.n_items) {
      r.fail(fmt::format("{} x {} matrix for {} users x {} items", m->n_rows, m->n_cols, ds.n_users, ds.n_items));
    }
    try {
      m->validate();
    } catch (const Error& e) {
      r.fail(e.what());
    }
  }
  {
    Reader r = section("recall_rows");
    ds.recall_rows = r.get_array<uint32_t>("recall_rows");
    r.expect_end();
    if (!ds.recall_rows.empty()) {
      if (ds.recall_rows.size() != ds.n_users) r.fail(fmt::format("{} entries for {} users", ds.recall_rows.size(), ds.n_users));
      for (uint32_t u = 0; u < ds.n_users; ++u) {
        if (ds.recall_rows[u] > ds.train.row_size(u)) r.fail(fmt::format("user {} exceeds its train row", u));
      }
    }
  }
  if (sections.count("seen")) {
    Reader r = section("seen");
    ds.options.keep_seen = true;
    ds.seen = get_interactions(r);
    ds.seen_after = r.get_array<uint32_t>("seen_after");
    r.expect_end();
    if (ds.seen.n_rows != ds.n_users || ds.seen.n_cols != ds.n_items) {
      r.fail(fmt::format("{} x {} matrix for {} users x {} items", ds.seen.n_rows, ds.seen.n_cols,
                         ds.n_users, ds.n_items));
    }
    try {
      ds.seen.validate();
    } catch (const Error& e) {
      r.fail(e.what());
    }
    if (ds.seen_after.size() != ds.seen.nnz())
      r.fail(fmt::format("{} seen_after entries for {} seen rows", ds.seen_after.size(),
                         ds.seen.nnz()));
    for (uint32_t u = 0; u < ds.n_users; ++u) {
      const uint32_t positives = ds.train.row_size(u) + ds.valid.row_size(u) + ds.test.row_size(u);
      for (uint64_t j = ds.seen.indptr[u]; j < ds.seen.indptr[u + 1]; ++j) {
        if (ds.seen_after[j] > positives ||
            (j > ds.seen.indptr[u] && ds.seen_after[j] < ds.seen_after[j - 1]))
          r.fail(fmt::format("user {}: seen_after out of order or beyond the user's {} positives",
                             u, positives));
      }
    }
  }
  {
    Reader r = section("catalog");
    Catalog& c = ds.catalog;
    c.genre_names = r.get_strings("genre names");
    c.tag_names = r.get_strings("tag names");
    const uint64_t ni = r.get<uint64_t>("item count");
    if (ni != ds.n_items) r.fail(fmt::format("{} items for {} dense items", ni, ds.n_items));
    std::vector<std::string> titles = r.get_strings(ni, "titles");
    c.items.resize(ni);
    for (uint64_t i = 0; i < ni; ++i) c.items[i].title = std::move(titles[i]);
    const char* years = r.take(ni, sizeof(int32_t), "years");
    for (uint64_t i = 0; i < ni; ++i) std::memcpy(&c.items[i].year, years + i * 4, 4);
    std::vector<uint64_t> goff = r.get_offsets(ni, "genre offsets");
    const char* genres = r.take(goff[ni], sizeof(uint16_t), "genres");
    for (uint64_t i = 0; i < ni; ++i) {
      auto& g = c.items[i].genres;
      g.resize(goff[i + 1] - goff[i]);
      if (!g.empty()) std::memcpy(g.data(), genres + goff[i] * 2, g.size() * 2);
    }
    std::vector<uint64_t> toff = r.get_offsets(ni, "tag offsets");
    const char* tags = r.take(toff[ni], sizeof(uint32_t), "tags");
    for (uint64_t i = 0; i < ni; ++i) {
      auto& t = c.items[i].tags;
      t.resize(toff[i + 1] - toff[i]);
      if (!t.empty()) std::memcpy(t.data(), tags + toff[i] * 4, t.size() * 4);
    }
    const uint64_t nu = r.get<uint64_t>("user count");
    if (nu != ds.n_users) r.fail(fmt::format("{} users for {} dense users", nu, ds.n_users));
    c.users.resize(nu);
    const char* gender = r.take(nu, 1, "genders");
    const char* age = r.take(nu, 4, "ages");
    const char* bucket = r.take(nu, 4, "age buckets");
    for (uint64_t u = 0; u < nu; ++u) {
      c.users[u].gender = gender[u];
      std::memcpy(&c.users[u].age, age + u * 4, 4);
      std::memcpy(&c.users[u].age_bucket, bucket + u * 4, 4);
    }
    std::vector<std::string> occ = r.get_strings(nu, "occupations");
    for (uint64_t u = 0; u < nu; ++u) c.users[u].occupation = std::move(occ[u]);
    r.expect_end();
  }
  {
    auto prov = split_sections(fname, provenance, "provenance");
    auto it = prov.find("source");
    if (it != prov.end()) {
      Reader r(fname, "source", it->second.data(), it->second.size());
      ds.source = r.get_string("source");
      r.expect_end();
    }
  }
  return ds;
}

}  // namespace cascade
