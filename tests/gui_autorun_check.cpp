// Checks what `moescope-gui --autorun` wrote: the screenshot (size, not blank, distinct colours
// where the routing heatmap is) and the state dump (the reply equals `moescope run --json`
// greedy output for the same prompt and model; every evaluated token has routing; no
// validation messages). With --cache N (the run used --expert-cache N): the cache panel's state
// in the dump (budget, hits + misses = accesses, hit rate in (0, 1), the timeline covers every
// evaluated token, slots), the slot colours in the panel's region of the screenshot, and the
// CLI's output with the cache equal to its output without (--cli-reference). With --trace F
// (the GUI's --export-trace): a version 1 trace of every evaluated token with the context's ids;
// with the cache, its forward steps carry the live counters, which equal the dump's and what
// the offline simulator (cache::replay) computes from the trace's routing.
// Chat runs (--autorun --chat) are checked without the CLI: --expect reasoning (the model's own
// template opened a thinking block in the prompt, so the whole reply is reasoning: the dump's
// reply has its text as reasoning, an empty answer, every generated token of the reasoning);
// --expect-warning TEXT (the template fell back to a built-in format: the facts and the chat
// panel's template line say so, the warning ends with TEXT).
//   gui_autorun_check --png F --width W --height H --dump F.json --cli F.jsonl
//                     [--cache N --cli-reference F.jsonl] [--trace F]
//   gui_autorun_check --png F --width W --height H --dump F.json (--expect reasoning | --expect-warning TEXT)
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>
#include <stb_image.h>

#include "trace/cache_sim.h"
#include "trace/trace.h"

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

// Pixels of exactly colour rgb in [x0, x1) x [y0, y1).
size_t pixelsOf(const unsigned char* px, int w, int x0, int y0, int x1, int y1, uint32_t rgb) {
    size_t n = 0;
    for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
            const unsigned char* p = px + (size_t(y) * w + x) * 4;
            n += (uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]) == rgb;
        }
    return n;
}

// The cache panel of the default layout: x 34..67%, y 67..99% (below expert load).
void checkCacheRegion(const unsigned char* px, int w, int h, const nlohmann::json& cache) {
    const int x0 = w * 34 / 100, x1 = w * 67 / 100, y0 = h * 67 / 100, y1 = h * 99 / 100;
    const size_t distinct = distinctColours(px, w, x0, y0, x1, y1);
    check(distinct >= 12, "the cache panel area has several distinct colours (" + std::to_string(distinct) + ")");
    // every slot state of the last step is drawn in its colour: a cell is far larger than the
    // legend's swatch, so each slot in a state adds at least 200 pixels of it
    std::map<std::string, size_t> slots;
    for (const auto& l : cache["layers"])
        for (const auto& v : l["slots"]) ++slots[v["last"].get<std::string>()];
    std::set<uint32_t> kinds;
    for (const auto& [state, n] : slots) {
        const std::string hex = cache["legend"].value(state, std::string("#000000"));
        const uint32_t rgb = uint32_t(std::stoul(hex.substr(1), nullptr, 16));
        const size_t got = pixelsOf(px, w, x0, y0, x1, y1, rgb);
        check(got >= 200 * n, "the cache panel shows " + std::to_string(n) + " '" + state + "' slot(s) in " + hex + " (" +
                                  std::to_string(got) + " pixels)");
        kinds.insert(rgb);
    }
    check(!kinds.empty(), "the cache panel has slots to show");
}

void checkPng(const std::string& path, int wantW, int wantH, const nlohmann::json* cache) {
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
    if (cache && w == wantW && h == wantH) checkCacheRegion(px, w, h, *cache);
    stbi_image_free(px);
}

nlohmann::json readDump(const std::string& path) {
    std::ifstream df(path);
    nlohmann::json d = nlohmann::json::parse(df, nullptr, false);
    check(!d.is_discarded() && d.is_object(), "state dump " + path + " is JSON");
    return d.is_object() ? d : nlohmann::json();
}

// Token ids and text of `moescope run --json`.
std::pair<std::vector<int>, std::string> readCli(const std::string& path) {
    std::pair<std::vector<int>, std::string> r;
    std::ifstream cf(path);
    std::string line;
    while (std::getline(cf, line)) {
        auto j = nlohmann::json::parse(line, nullptr, false);
        if (j.is_object() && j.contains("id")) {
            r.first.push_back(j["id"].get<int>());
            r.second += j["text"].get<std::string>();
        }
    }
    return r;
}

// The cache panel's state: the budget asked for, consistent counters, a timeline that covers
// every evaluated token, the slots of every layer.
void checkCache(const nlohmann::json& d, int budget) {
    const auto& c = d["cache"];
    check(c.value("enabled", false), "the cache panel shows an enabled expert cache");
    check(c.value("budget", 0) == budget, "budget " + std::to_string(budget) + " slots per layer (dump: " +
                                              c["budget"].dump() + ")");
    check(c.value("policy", std::string()) == "lru", "policy lru (dump: " + c["policy"].dump() + ")");
    const uint64_t acc = c.value("accesses", 0ull), hits = c.value("hits", 0ull), misses = c.value("misses", 0ull);
    check(acc > 0 && hits + misses == acc, "hits + misses = accesses (" + std::to_string(hits) + " + " +
                                               std::to_string(misses) + " of " + std::to_string(acc) + ")");
    const double rate = c.value("hit_rate", -1.0);
    check(rate > 0 && rate < 1, "hit rate in (0, 1): " + std::to_string(rate));
    const bool model = d.contains("model") && d["model"].is_object();
    const int layers = model ? d["model"].value("layers", 0) : 0, experts = model ? d["model"].value("experts", 0) : 0;
    check(int(c["layers"].size()) == layers, "cache totals for every layer");
    uint64_t sumAcc = 0, sumHits = 0, sumMisses = 0;
    bool layersOk = true, slotsOk = true;
    for (const auto& l : c["layers"]) {
        const uint64_t a = l.value("accesses", 0ull), h = l.value("hits", 0ull), m = l.value("misses", 0ull);
        layersOk &= h + m == a && l.value("evictions", 0ull) <= m + l.value("prefetches", 0ull);
        sumAcc += a, sumHits += h, sumMisses += m;
        std::set<int> seen;
        slotsOk &= int(l["slots"].size()) == budget;
        for (const auto& v : l["slots"]) {
            const int e = v["expert"].get<int>();
            slotsOk &= e >= -1 && e < experts && (e < 0 || seen.insert(e).second);
        }
    }
    check(layersOk && sumAcc == acc && sumHits == hits && sumMisses == misses,
          "per layer: hits + misses = accesses, evictions <= loads, layers sum to the totals");
    check(slotsOk, "every layer shows " + std::to_string(budget) + " slots of distinct experts in range");
    size_t routed = 0;
    for (const auto& t : d["tokens"]) routed += t.value("routed", false);
    uint64_t stepTokens = 0;
    for (const auto& s : c["timeline"]) stepTokens += s.value("n_tok", 0u);
    check(stepTokens == routed && !c["timeline"].empty() && c["timeline"][0].value("prefill", false),
          "the hit-rate timeline covers every evaluated token, prefill first (" + std::to_string(stepTokens) + " of " +
              std::to_string(routed) + ")");
    check(c.value("tokens", 0ull) == routed, "bytes per token are over the evaluated tokens");
}

void checkDump(const nlohmann::json& d, const std::string& cliPath, const std::string& referencePath) {
    if (d.is_null()) return;
    const auto [cliIds, cliText] = readCli(cliPath);
    check(!cliIds.empty(), "the CLI generated tokens (" + std::to_string(cliIds.size()) + ")");
    if (!referencePath.empty()) {
        const auto ref = readCli(referencePath);
        check(ref.first == cliIds && ref.second == cliText,
              "the CLI's output with the expert cache equals its output without:\n  cache:    " + cliText +
                  "\n  resident: " + ref.second);
    }
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

std::string trimmed(const std::string& s) {
    const size_t b = s.find_first_not_of(" \t\n\r\f\v");
    return b == std::string::npos ? std::string() : s.substr(b, s.find_last_not_of(" \t\n\r\f\v") - b + 1);
}

bool endsWith(const std::string& s, const std::string& tail) {
    return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// A chat run: the reply and its parts as the chat panel shows them, the template facts.
void checkChatReply(const nlohmann::json& d, const std::string& expect, const std::string& warning) {
    if (d.is_null()) return;
    check(d.value("mode", std::string()) == "chat", "the run was a chat (mode " + d["mode"].dump() + ")");
    check(d.value("autorun_error", std::string("?")).empty(), "the autorun finished (" + d["autorun_error"].dump() + ")");
    const auto& m = d["model"];
    check(m.is_object(), "the model panel has facts");
    if (!m.is_object()) return;
    const auto& msgs = d["messages"];
    check(msgs.is_array() && msgs.size() == 2 && msgs[0].value("role", "") == "user" &&
              msgs[1].value("role", "") == "assistant",
          "the chat shows the user's message and the reply");
    if (!msgs.is_array() || msgs.size() != 2) return;
    const auto& r = msgs[1];
    const std::string text = d.value("generated_text", std::string());
    const size_t generated = d["generated_token_ids"].size();
    check(generated > 0 && !text.empty(), "the model generated tokens (" + std::to_string(generated) + ")");
    check(r["token_parts"].size() == generated, "every generated token has its part in the reply (" +
                                                    std::to_string(r["token_parts"].size()) + ")");
    if (expect == "reasoning") {
        check(m.value("template_jinja", false), "the model's own template is rendered (template_jinja)");
        const std::string line = m.value("template_line", std::string());
        check(line.rfind("template: the model's own (Jinja), ", 0) == 0, "the chat panel says so: " + line);
        check(m.value("template_warning", std::string("?")).empty(), "no template warning (" +
                                                                        m["template_warning"].dump() + ")");
        check(m.value("reply_format", std::string()).find("<think>...</think>") != std::string::npos,
              "the reply format has the think tags (" + m["reply_format"].dump() + ")");
        // the prompt as the model saw it ends inside the block its template opened
        std::string prompt;
        const int first = r.value("first_pos", -1);
        for (const auto& t : d["tokens"])
            if (t.value("pos", 0) < first) prompt += t.value("text", std::string());
        check(endsWith(prompt, "<think>\n"), "the chat prompt ends with \"<think>\\n\"");
        check(r.value("reasoning", std::string("?")) == trimmed(text),
              "the generated text is the reply's reasoning:\n  reasoning: " + r["reasoning"].dump() + "\n  generated: " +
                  nlohmann::json(text).dump());
        check(r.value("content", std::string("?")).empty(), "the reply's answer is empty (" + r["content"].dump() + ")");
        check(r["tool_calls"].empty(), "no tool calls");
        bool all = !r["token_parts"].empty();
        for (const auto& p : r["token_parts"]) all &= p == "reasoning";
        check(all, "every generated token is shown in the thinking node (" + r["token_parts"].dump() + ")");
    } else {
        const std::string w = m.value("template_warning", std::string());
        check(endsWith(w, warning), "the template warning ends with \"" + warning + "\": " + w);
        check(!m.value("template_jinja", true), "the built-in format is used (template_jinja false)");
        check(m.value("template_line", std::string()) == "template: built-in " + m.value("chat_template", std::string()),
              "the chat panel's template line says so: " + m["template_line"].dump());
        check(m.value("chat_template", std::string()) == "chatml", "the family is chatml (" + m["chat_template"].dump() + ")");
        check(r.value("content", std::string()) == trimmed(text) || r.value("content", std::string()) == text,
              "without reply markers the generated text is the answer");
    }
    const auto& v = d["validation_messages"];
    check(v["engine"].get<int>() == 0 && v["gui"].get<int>() == 0,
          "no Vulkan validation messages (engine " + v["engine"].dump() + ", gui " + v["gui"].dump() + ")");
}

// The exported trace: the context's evaluated tokens; with the cache, live counters per forward
// step equal to the dump's totals and to the simulator's replay of the same routing.
void checkTrace(const std::string& path, const nlohmann::json& d, int budget) {
    auto r = moe::trace::readTrace(path);
    check(r.ok(), "the exported trace " + path + " reads back" + (r.ok() ? std::string() : ": " + r.error().message));
    if (!r.ok()) return;
    const moe::trace::Trace& tr = r.value();
    std::vector<int> ids;
    for (const auto& t : d["tokens"])
        if (t.value("routed", false)) ids.push_back(t["id"].get<int>());
    check(std::vector<int>(tr.tokens.begin(), tr.tokens.end()) == ids,
          "the trace holds the conversation's evaluated tokens (" + std::to_string(tr.nTokens()) + ")");
    check(tr.info.nLayer == d["model"].value("layers", 0u) && tr.info.nExpert == d["model"].value("experts", 0u),
          "the trace has the model's layers and experts");
    if (budget <= 0) return;
    const auto& c = d["cache"];
    check(tr.info.cache.slots == uint32_t(budget) && tr.info.cache.policy == "lru",
          "the trace header has the cache setting (" + std::to_string(tr.info.cache.slots) + " slots, " +
              tr.info.cache.policy + ")");
    check(!tr.cache.empty() && tr.cache.size() == tr.nSteps() * tr.info.nLayer,
          "the trace has the live counters of every forward step (" + std::to_string(tr.nSteps()) + " steps)");
    const moe::cache::CacheStats live = moe::cache::liveTotals(tr);
    check(live.hits == c.value("hits", 0ull) && live.misses == c.value("misses", 0ull) &&
              live.evictions == c.value("evictions", 0ull) && live.bytesUploaded == c.value("bytes_uploaded", 0ull),
          "the trace's live counters sum to the panel's totals");
    moe::cache::SimOptions so;
    so.prefetch = tr.info.cache.prefetch;  // from the trace's recorded predictions
    auto rep = moe::cache::replay(tr, moe::cache::Policy::LRU, uint32_t(budget), so);
    check(rep.ok(), "the simulator replays the trace" + (rep.ok() ? std::string() : ": " + rep.error().message));
    if (!rep.ok()) return;
    bool same = rep.value().perStep.size() == tr.cache.size();
    for (size_t i = 0; same && i < tr.cache.size(); ++i) {
        const auto &a = rep.value().perStep[i], &b = tr.cache[i];
        same = a.accesses == b.accesses && a.hits == b.hits && a.misses == b.misses && a.evictions == b.evictions &&
               a.bytesUploaded == b.bytesUploaded;
    }
    char rates[96];
    std::snprintf(rates, sizeof rates, "live %.4f, simulated %.4f", live.hitRate(), rep.value().total.hitRate());
    check(same, std::string("the simulator's replay of the trace equals the engine's live counters, step by step (") +
                    rates + ")");
}

}  // namespace

int main(int argc, char** argv) {
    std::string png, dump, cli, reference, trace, expect, warning;
    int w = 0, h = 0, cache = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--png") png = v;
        else if (k == "--width") w = std::stoi(v);
        else if (k == "--height") h = std::stoi(v);
        else if (k == "--dump") dump = v;
        else if (k == "--cli") cli = v;
        else if (k == "--cli-reference") reference = v;
        else if (k == "--cache") cache = std::stoi(v);
        else if (k == "--trace") trace = v;
        else if (k == "--expect") expect = v;
        else if (k == "--expect-warning") warning = v;
    }
    const bool chat = expect == "reasoning" || !warning.empty();
    if (png.empty() || dump.empty() || (cli.empty() && !chat) || !w || !h || !(expect.empty() || expect == "reasoning")) {
        std::fprintf(stderr, "usage: gui_autorun_check --png F --width W --height H --dump F.json --cli F.jsonl "
                             "[--cache N --cli-reference F.jsonl] [--trace F]\n"
                             "       gui_autorun_check --png F --width W --height H --dump F.json "
                             "(--expect reasoning | --expect-warning TEXT)\n");
        return 2;
    }
    const nlohmann::json d = readDump(dump);
    if (chat) {
        checkPng(png, w, h, nullptr);
        checkChatReply(d, expect, warning);
        std::printf("%s\n", failures ? "gui chat reply check FAILED" : "gui chat reply check passed");
        return failures ? 1 : 0;
    }
    const bool withCache = cache > 0 && d.is_object() && d.contains("cache");
    checkPng(png, w, h, withCache ? &d["cache"] : nullptr);
    checkDump(d, cli, reference);
    if (cache > 0) {
        check(withCache && d["cache"].is_object(), "the dump has the cache panel's state");
        if (withCache && d["cache"].is_object()) checkCache(d, cache);
    }
    if (!trace.empty() && d.is_object()) checkTrace(trace, d, withCache ? cache : 0);
    std::printf("%s\n", failures ? "gui autorun check FAILED" : "gui autorun check passed");
    return failures ? 1 : 0;
}
