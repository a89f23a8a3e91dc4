// Paths of the bundled model and of the configuration folder.
#include "platform/paths.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#ifdef __linux__
#include <unistd.h>
#endif

namespace moe {

std::string bundledModelPath() {
    namespace fs = std::filesystem;
    const char* name = "moescope-tiny.gguf";
#ifdef __linux__
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n > 0) {
        buf[n] = 0;
        fs::path exe(buf);
        for (fs::path p : {exe.parent_path() / "assets", exe.parent_path().parent_path() / "assets",
                           exe.parent_path().parent_path() / "share/moescope/assets"})
            if (fs::exists(p / name)) return (p / name).string();
    }
#endif
    return (fs::path(MOESCOPE_SOURCE_DIR) / "assets" / name).string();
}

std::string configDir() {
    namespace fs = std::filesystem;
    fs::path dir;
    if (const char* x = std::getenv("XDG_CONFIG_HOME"); x && *x) dir = fs::path(x) / "moescope";
    else if (const char* h = std::getenv("HOME"); h && *h) dir = fs::path(h) / ".config" / "moescope";
    else return {};
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return {};
    return dir.string();
}

}  // namespace moe
