// File access: read-only memory maps for model weights, whole-file reads, atomic writes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace pad {

// A read-only memory map of a whole file. Movable, not copyable; unmaps on destruction.
class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path);  // throws std::runtime_error naming the file
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Drops the resident pages of a read-only file mapping inside [p, p + n) (whole pages only); a
// later read faults them in again from the file. For data copied out of a map, so it is not
// resident twice.
void release_mapped_pages(const void* p, size_t n);

std::string read_file(const std::string& path);  // throws std::runtime_error naming the file
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);

// Removes a file or a directory tree; no error if it does not exist. POSIX nftw rather than
// std::filesystem::remove_all, which libtorch 2.x wheels export a broken copy of (seen crashing).
void remove_tree(const std::string& path);

// Writes to a temporary file in the same directory, fsyncs it, then renames over `path`, so a
// reader never sees a partial file and a crash never destroys the previous version. A failed write
// (full disk, file size limit) throws std::runtime_error naming `path` and errno, and removes the
// temporary file. Processes that may hit RLIMIT_FSIZE should ignore SIGXFSZ (the pad CLI does) so
// that the write fails with EFBIG instead of the signal killing the process.
void write_file_atomic(const std::string& path, std::string_view contents);

}  // namespace pad
