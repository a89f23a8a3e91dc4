// MappedFile: mmap on POSIX, file mapping objects on Windows.
#include "platform/mapped_file.h"

#include <cerrno>
#include <cstring>

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

namespace moe {

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        release();
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
        path_ = std::move(o.path_);
#ifdef _WIN32
        fileHandle_ = std::exchange(o.fileHandle_, nullptr);
        mapHandle_ = std::exchange(o.mapHandle_, nullptr);
#endif
    }
    return *this;
}

MappedFile::~MappedFile() { release(); }

#ifdef _WIN32
void MappedFile::release() {
    if (data_) UnmapViewOfFile(data_);
    if (mapHandle_) CloseHandle(mapHandle_);
    if (fileHandle_) CloseHandle(fileHandle_);
    data_ = nullptr; mapHandle_ = nullptr; fileHandle_ = nullptr; size_ = 0;
}

Result<MappedFile> MappedFile::open(const std::string& path) {
    MappedFile f;
    f.path_ = path;
    HANDLE h = CreateFileA(path.c_str(), GENERIC_READ, FILE_SHARE_READ, nullptr, OPEN_EXISTING,
                           FILE_ATTRIBUTE_NORMAL, nullptr);
    if (h == INVALID_HANDLE_VALUE) return makeError("cannot open '" + path + "'");
    f.fileHandle_ = h;
    LARGE_INTEGER sz;
    if (!GetFileSizeEx(h, &sz)) return makeError("cannot stat '" + path + "'");
    f.size_ = size_t(sz.QuadPart);
    if (f.size_ == 0) return f;
    f.mapHandle_ = CreateFileMappingA(h, nullptr, PAGE_READONLY, 0, 0, nullptr);
    if (!f.mapHandle_) return makeError("cannot map '" + path + "'");
    f.data_ = static_cast<const uint8_t*>(MapViewOfFile(f.mapHandle_, FILE_MAP_READ, 0, 0, 0));
    if (!f.data_) return makeError("cannot map '" + path + "'");
    return f;
}
#else
void MappedFile::release() {
    if (data_ && size_) munmap(const_cast<uint8_t*>(data_), size_);
    data_ = nullptr;
    size_ = 0;
}

Result<MappedFile> MappedFile::open(const std::string& path) {
    MappedFile f;
    f.path_ = path;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return makeError("cannot open '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (fstat(fd, &st) != 0) {
        int e = errno;
        ::close(fd);
        return makeError("cannot stat '" + path + "': " + std::strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        return makeError("'" + path + "' is not a regular file");
    }
    f.size_ = size_t(st.st_size);
    if (f.size_ == 0) {
        ::close(fd);
        return f;
    }
    void* p = mmap(nullptr, f.size_, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    ::close(fd);
    if (p == MAP_FAILED) {
        f.size_ = 0;
        return makeError("cannot map '" + path + "': " + std::strerror(e));
    }
    f.data_ = static_cast<const uint8_t*>(p);
    return f;
}
#endif

}  // namespace moe
