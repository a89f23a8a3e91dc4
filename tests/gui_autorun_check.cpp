// Checks what `moescope-gui --autorun` wrote: the screenshot (size, not blank, distinct colours
// where the routing heatmap is) and the state dump (the reply equals `moescope run --json`
// greedy output for the same prompt and model; every evaluated token has routing; no
// validation messages).
//   gui_autorun_check --png F --width W --height H --dump F.json --cli F.jsonl
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>
#include <stb_image.h>

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    if (!ok) ++failures;
}

// Distinct colours in [x0, x1) x [y0, y1) of an RGBA image.
size_t distinctColours(const unsigned char* px, int w, int x0, int y0, int x1, int y1) {
    std::set<uint32_t> c;
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
            const unsigned char* p = px + (size_t(y) * w + x) * 4;
            c.insert(uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]);
        }
    return c.size();
}

void checkPng(const std::string& path, int wantW, int wantH) {
    int w = 0, h = 0, n = 0;
    unsigned char* px = stbi_load(path.c_str(), &w, &h, &n, 4);
    check(px != nullptr, "screenshot " + path + " is a readable PNG");
    if (!px) return;
    check(w == wantW && h == wantH, "screenshot is " + std::to_string(wantW) + "x" + std::to_string(wantH) + " (got " +
                                        std::to_string(w) + "x" + std::to_string(h) + ")");
    // not blank: the most common colour covers less than 90% of the window
    std::unordered_map<uint32_t, size_t> hist;
    for (size_t i = 0; i < size_t(w) * h; ++i)
        ++hist[uint32_t(px[i * 4]) << 16 | uint32_t(px[i * 4 + 1]) << 8 | px[i * 4 + 2]];
    size_t top = 0;
    for (auto& [c, k] : hist) top = std::max(top, k);
    check(top < size_t(w) * h * 9 / 10, "screenshot is not blank (most common colour " +
                                            std::to_string(100 * top / (size_t(w) * h)) + "% of pixels)");
    check(hist.size() >= 64, "screenshot has many colours (" + std::to_string(hist.size()) + ")");
    // the heatmap window of the default layout: x 34..67%, y 3..40%
    const size_t heat = distinctColours(px, w, w * 34 / 100, h * 3 / 100, w * 67 / 100, h * 40 / 100);
    check(heat >= 12, "the heatmap area has several distinct colours (" + std::to_string(heat) + ")");
    stbi_image_free(px);
}

void checkDump(const std::string& dumpPath, const std::string& cliPath) {
    std::ifstream df(dumpPath);
    nlohmann::json d = nlohmann::json::parse(df, nullptr, false);
    check(!d.is_discarded() && d.is_object(), "state dump " + dumpPath + " is JSON");
    if (d.is_discarded()) return;
    std::string cliText;
    std::vector<int> cliIds;
    std::ifstream cf(cliPath);
    std::string line;
    while (std::getline(cf, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_object() && j.contains("id")) {
            cliIds.push_back(j["id"].get<int>());
            cliText += j["text"].get<std::string>();
        }
    }
    check(!cliIds.empty(), "the CLI generated tokens (" + std::to_string(cliIds.size()) + ")");
    const std::string guiText = d.value("generated_text", std::string("<missing>"));
    check(guiText == cliText, "generated text equals the CLI's:\n  gui: " + guiText + "\n  cli: " + cliText);
    std::vector<int> guiIds;
    for (auto& v : d["generated_token_ids"]) guiIds.push_back(v.get<int>());
    check(guiIds == cliIds, "generated token ids equal the CLI's");

    const auto& m = d["model"];
    check(m.is_object(), "the model panel has facts");
    if (!m.is_object()) return;
    const int layers = m.value("layers", 0), experts = m.value("experts", 0);
    size_t routed = 0;
    bool shapes = true;
    for (const auto& t : d["tokens"]) {
        if (!t.value("routed", false)) continue;
        ++routed;
        const auto& ls = t["layers"];
        shapes &= ls.is_array() && int(ls.size()) == layers;
        for (const auto& l : ls) {
            shapes &= l["probs"].size() == size_t(experts) && !l["ids"].empty();
            for (const auto& e : l["ids"]) shapes &= e.get<int>() >= 0 && e.get<int>() < experts;
        }
    }
    const size_t total = d["tokens"].size();
    // every token but the last sampled one (never fed back) was evaluated
    check(total > 0 && routed + 1 >= total, "every evaluated token has routing (" + std::to_string(routed) + " of " +
                                               std::to_string(total) + ")");
    check(shapes, "routing records have every layer, expert ids in range, a probability per expert");
    check(d["heatmap_position"].get<int>() >= 0, "the heatmap shows a token");
    check(d["stats"]["decode_tok_s"].get<double>() > 0, "decode tok/s is reported");
    check(!d["kernels"]["decode"].empty(), "per-shader GPU times are reported");
    check(d["memory"].value("weights", 0ull) > 0, "weight memory is reported");
    const auto& v = d["validation_messages"];
    check(v["engine"].get<int>() == 0 && v["gui"].get<int>() == 0,
          "no Vulkan validation messages (engine " + v["engine"].dump() + ", gui " + v["gui"].dump() + ")");
}

}  // namespace

int main(int argc, char** argv) {
    std::string png, dump, cli;
    int w = 0, h = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--png") png = v;
        else if (k == "--width") w = std::stoi(v);
        else if (k == "--height") h = std::stoi(v);
        else if (k == "--dump") dump = v;
        else if (k == "--cli") cli = v;
    }
    if (png.empty() || dump.empty() || cli.empty() || !w || !h) {
        std::fprintf(stderr, "usage: gui_autorun_check --png F --width W --height H --dump F.json --cli F.jsonl\n");
        return 2;
    }
    checkPng(png, w, h);
    checkDump(dump, cli);
    std::printf("%s\n", failures ? "gui autorun check FAILED" : "gui autorun check passed");
    return failures ? 1 : 0;
}
