// Writes the seed corpus of the Jinja2 fuzzer (fuzz_jinja.cpp): every template of
// tests/jinja/templates as it is, and once more followed by a NUL and one of the
// conversations of tests/jinja/conversations as its context. Usage: jinja_seeds OUTDIR
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::string readFile(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    const fs::path src = MOESCOPE_SOURCE_DIR;
    std::vector<fs::path> templates, convs;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(src / "tests/jinja/templates", ec))
        if (e.path().extension() == ".jinja") templates.push_back(e.path());
    for (const auto& e : fs::directory_iterator(src / "tests/jinja/conversations", ec))
        if (e.path().extension() == ".json") convs.push_back(e.path());
    if (templates.empty()) {
        std::fprintf(stderr, "no templates under %s/tests/jinja/templates\n", src.c_str());
        return 1;
    }
    size_t n = 0;
    auto write = [&](const std::string& name, const std::string& bytes) {
        std::ofstream out(fs::path(argv[1]) / name, std::ios::binary);
        out.write(bytes.data(), std::streamsize(bytes.size()));
        if (!out) {
            std::fprintf(stderr, "cannot write %s/%s\n", argv[1], name.c_str());
            return false;
        }
        ++n;
        return true;
    };
    for (size_t i = 0; i < templates.size(); ++i) {
        std::string t = readFile(templates[i]);
        std::string stem = templates[i].stem().string();
        if (!write(stem, t)) return 1;
        if (!convs.empty() && !write(stem + "_ctx", t + std::string(1, '\0') + readFile(convs[i % convs.size()])))
            return 1;
    }
    std::printf("wrote %zu seeds to %s\n", n, argv[1]);
    return 0;
}
