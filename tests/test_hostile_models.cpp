// The hostile model corpus (support/hostile_models.h) through the model loader, in process:
// every file is refused with one line that names the file and the problem. Each file is read
// twice: mapped (as the CLI and GUI open it) and from a heap buffer of exactly its size, so that
// the sanitizer build reports any read past its end. tests/cli and ui/ run the same corpus
// through every `moescope` model command and moescope-gui.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <iterator>

#include "support/hostile_models.h"
#include "synth_models.h"

using namespace moe;
using namespace moe::test;

namespace {

const HostileCorpus& corpus() {
    static const HostileCorpus c = [] {
        auto r = writeHostileCorpus((synthDir() / "hostile").string());
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        return std::move(r).value();
    }();
    return c;
}

std::vector<uint8_t> readAll(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

// Empty when the message is what the case expects, else why not.
std::string judge(const HostileFile& f, const std::string& path, const std::string& msg) {
    if (msg.find(path) == std::string::npos) return "does not name the file";
    if (msg.find('\n') != std::string::npos) return "more than one line";
    for (const std::string& e : f.expect)
        if (msg.find(e) != std::string::npos) return {};
    return "names another problem than expected ('" + f.expect.front() + "')";
}

}  // namespace

TEST_CASE("hostile corpus: the base models load") {
    for (const std::string& b : corpus().bases) {
        auto m = loadModel(corpus().dir + "/" + b);
        CHECK_MESSAGE(m.ok(), b << ": " << (m.ok() ? "" : m.error().message));
    }
}

TEST_CASE("hostile corpus: every file is refused with one line naming the problem") {
    const HostileCorpus& c = corpus();
    REQUIRE(c.files.size() > 150);
    const bool show = std::getenv("HOSTILE_SHOW_ERRORS") != nullptr;  // to review the messages
    size_t refused = 0;
    for (const HostileFile& f : c.files) {
        const std::string path = c.dir + "/" + f.name;
        CAPTURE(path);
        auto mapped = loadModel(path);
        REQUIRE_MESSAGE(!mapped.ok(), f.name << " loaded");
        const std::string msg = mapped.error().message;
        if (show) std::printf("%s\n", msg.c_str());
        const std::string why = judge(f, path, msg);
        CHECK_MESSAGE(why.empty(), why << ": " << msg);
        if (f.name == "path_directory.gguf") {
            refused += why.empty();
            continue;
        }
        // the same bytes in an exact-size heap buffer: the same message
        const std::vector<uint8_t> bytes = readAll(path);
        auto file = GgufFile::fromMemory(bytes, path);
        std::string heapMsg;
        if (!file.ok()) {
            heapMsg = file.error().message;
        } else {
            auto m = loadModel(std::move(file).value());
            REQUIRE_MESSAGE(!m.ok(), f.name << " loaded from memory");
            heapMsg = m.error().message;
        }
        CHECK(heapMsg == msg);
        refused += why.empty() && heapMsg == msg;
    }
    MESSAGE(refused << " of " << c.files.size() << " hostile files refused with the expected one-line error");
}
