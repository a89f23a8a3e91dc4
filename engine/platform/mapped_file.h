// Read-only memory mapping of a whole file: the one platform interface for model loading.
// POSIX mmap here; the Windows branch uses CreateFileMapping (built only there).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>

#include "core/result.h"

namespace moe {

class MappedFile {
public:
    MappedFile() = default;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    MappedFile(MappedFile&& o) noexcept { *this = std::move(o); }
    MappedFile& operator=(MappedFile&& o) noexcept;
    ~MappedFile();

    // Maps `path`; an empty file maps to size 0 with a null data pointer.
    static Result<MappedFile> open(const std::string& path);

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    const std::string& path() const { return path_; }

private:
    void release();
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    std::string path_;
#ifdef _WIN32
    void* fileHandle_ = nullptr;
    void* mapHandle_ = nullptr;
#endif
};

}  // namespace moe
