// The app's frame loop: events from the engine thread, panels, actions back to it, render.
#include "ui/app.h"

#include <GLFW/glfw3.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <thread>

#include <imgui.h>

#include "platform/paths.h"
#include "ui/autorun.h"
#include "ui/controller.h"
#include "ui/panels.h"
#include "ui/renderer.h"
#include "ui/settings.h"

namespace moe::ui {

namespace {

std::vector<std::string>* g_dropped = nullptr;  // files dropped on the window this frame
volatile std::sig_atomic_t g_signalled = 0;       // SIGINT / SIGTERM: close like the window's close button

void onSignal(int) { g_signalled = 1; }

void onDrop(GLFWwindow*, int count, const char** paths) {
    if (!g_dropped) return;
    for (int i = 0; i < count; ++i) g_dropped->push_back(paths[i]);
}

int fail(const std::string& message) {
    std::fprintf(stderr, "moescope-gui: error: %s\n", message.c_str());
    return 1;
}

void setupFonts(float sizePx, float scale) {
    ImGuiIO& io = ImGui::GetIO();
    const char* dejavu = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";
    if (std::filesystem::exists(dejavu)) {
        // Latin + punctuation, arrows and symbols used by the token views (↵ ⇥ ∅)
        static ImVector<ImWchar> ranges;
        if (ranges.empty()) {
            ImFontGlyphRangesBuilder b;
            b.AddRanges(io.Fonts->GetGlyphRangesDefault());
            b.AddRanges(io.Fonts->GetGlyphRangesCyrillic());
            static const ImWchar extra[] = {0x0100, 0x024F, 0x0370, 0x03FF, 0x2000, 0x206F, 0x2190, 0x21FF,
                                            0x2200, 0x22FF, 0x2500, 0x25FF, 0xFFFD, 0xFFFD, 0};
            b.AddRanges(extra);
            b.BuildRanges(&ranges);
        }
        if (io.Fonts->AddFontFromFileTTF(dejavu, sizePx * scale, nullptr, ranges.Data)) return;
    }
    ImFontConfig cfg;
    cfg.SizePixels = 13.0f * scale;  // ImGui's built-in font (fonts-dejavu-core missing)
    io.Fonts->AddFontDefault(&cfg);
}

void applyStyle(float scale) {
    ImGui::StyleColorsDark();
    ImGuiStyle& st = ImGui::GetStyle();
    st.WindowRounding = 4.0f;
    st.FrameRounding = 3.0f;
    st.GrabRounding = 3.0f;
    st.WindowPadding = ImVec2(8, 6);
    st.ItemSpacing = ImVec2(7, 4);
    st.ScaleAllSizes(scale);
}

// Default layout for the window's size: chat above the model panel on the left, then two
// columns: the routing views, expert load and policy, the expert cache and performance.
// `force` re-applies it (View > Reset layout).
struct Layout {
    ImVec2 pos, size;
};
Layout cell(float x, float y, float w, float h) {
    // below the main menu bar (WorkPos only accounts for it from the second frame on)
    const ImGuiViewport* vp = ImGui::GetMainViewport();
    const float bar = ImGui::GetFrameHeight();
    const ImVec2 o(vp->Pos.x, vp->Pos.y + bar), s(vp->Size.x, vp->Size.y - bar);
    return {ImVec2(o.x + x * s.x, o.y + y * s.y), ImVec2(w * s.x, h * s.y)};
}
void place(const Layout& l, bool force) {
    const ImGuiCond c = force ? ImGuiCond_Always : ImGuiCond_FirstUseEver;
    ImGui::SetNextWindowPos(l.pos, c);
    ImGui::SetNextWindowSize(l.size, c);
}

void drawPanels(AppState& s, UiActions& act) {
    const bool f = s.resetLayout;
    s.resetLayout = false;
    const float cx = 0.34f, rw = (1.0f - cx) / 2, h1 = 0.40f, h2 = 0.25f, h3 = 1.0f - h1 - h2, chatH = 0.64f;
    drawMainMenu(s, act);
    place(cell(0, 0, cx, chatH), f);
    drawChatPanel(s.chat, s.conv, s.model, s.perf, act);
    place(cell(0, chatH, cx, 1.0f - chatH), f);
    drawModelPanel(s.model, act);
    place(cell(cx, 0, rw, h1), f);
    drawHeatmapPanel(s.conv, s.routing);
    place(cell(cx + rw, 0, rw, h1), f);
    drawHistoryPanel(s.conv);
    place(cell(cx, h1, rw, h2), f);
    drawExpertLoadPanel(s.conv);
    place(cell(cx + rw, h1, rw, h2), f);
    drawPolicyPanel(s.routing, s.model, act);
    place(cell(cx, h1 + h2, rw, h3), f);
    drawCachePanel(s.cache, s.model, s.conv, act);
    place(cell(cx + rw, h1 + h2, rw, h3), f);
    drawPerformancePanel(s.perf, act);
}

// The expert cache flags into the options every load asks for.
Status applyCacheOptions(const AppOptions& opts, CacheState& c) {
    c.request.slots = opts.expertCache;
    c.request.budgetMiB = opts.expertCacheMiB;
    if (opts.prefetch) c.request.prefetch = true;
    if (!opts.cachePolicy.empty()) {
        MOE_ASSIGN(c.request.policy, cache::parsePolicy(opts.cachePolicy));
    }
    MOE_TRY(rt::checkCacheOptions(opts.cpu, c.request));
    if (c.request.policy == cache::Policy::Static && opts.cacheStatic.empty())
        return makeError("--cache-policy static needs --cache-static TRACE (the trace its hot set is learned from)");
    c.requestStaticTrace = opts.cacheStatic;
    c.staticTrace = opts.cacheStatic;
    if (!opts.cacheStatic.empty()) c.staticFromConversation = false;
    return {};
}

// The model to load at start: --model, else the last one used, else the bundled one.
std::string initialModel(const AppOptions& opts, const AppState& s) {
    if (!opts.model.empty()) return opts.model;
    if (!opts.autorun && !s.model.recent.empty() && std::filesystem::exists(s.model.recent.front()))
        return s.model.recent.front();
    return bundledModelPath();
}

}  // namespace

int runApp(const AppOptions& opts) {
    CacheState cacheFlags;
    if (auto st = applyCacheOptions(opts, cacheFlags); !st.ok()) return fail(st.message());
    glfwSetErrorCallback([](int, const char*) {});  // errors are read with glfwGetError where they matter
    if (!glfwInit()) {
        const char* d = nullptr;
        glfwGetError(&d);
        return fail(std::string("cannot open a window: ") + (d ? d : "glfwInit failed") +
                    " (no display? under CI use xvfb-run -a)");
    }
    AppState s;
    const std::string cfgDir = opts.autorun ? std::string() : configDir();
    const std::string settingsPath = cfgDir.empty() ? std::string() : cfgDir + "/settings.json";
    const std::string iniPath = cfgDir.empty() ? std::string() : cfgDir + "/imgui.ini";
    if (!settingsPath.empty()) loadSettings(settingsPath, s);
    if (opts.cpu) s.model.cpu = true;
    if (opts.device >= 0) s.model.device = opts.device, s.model.cpu = false;
    s.cache = std::move(cacheFlags);

    IMGUI_CHECKVERSION();
    ImGui::CreateContext();
    ImGuiIO& io = ImGui::GetIO();
    io.IniFilename = iniPath.empty() ? nullptr : iniPath.c_str();
    int code = 0;
    {
        auto rr = Renderer::create({opts.width, opts.height, "moescope"});
        if (!rr.ok()) {
            ImGui::DestroyContext();
            glfwTerminate();
            return fail(rr.error().message);
        }
        std::unique_ptr<Renderer> renderer = std::move(rr).value();
        float scale = 1.0f, sy = 1.0f;
        glfwGetWindowContentScale(renderer->window(), &scale, &sy);
        scale = std::clamp(scale, 1.0f, 4.0f);
        applyStyle(scale);
        setupFonts(s.fontSize, scale);
        if (auto st = renderer->uploadFonts(); !st.ok()) code = fail(st.message());
        std::vector<std::string> dropped;
        g_dropped = &dropped;
        glfwSetDropCallback(renderer->window(), onDrop);

        rt::Session session([] { glfwPostEmptyEvent(); });
        session.post(rt::SetProfileCmd{s.perf.profile});
        const std::string first = initialModel(opts, s);
        s.model.pathInput = first;
        if (std::filesystem::exists(first)) requestLoad(s, session, first);
        else if (opts.model.empty()) s.model.error = "the bundled model is missing (" + first + "): open a GGUF file";
        else s.model.error = first + ": no such file";

        std::signal(SIGINT, onSignal);
        std::signal(SIGTERM, onSignal);
        Autorun run;
        auto lastFrame = std::chrono::steady_clock::now();
        while (code == 0 && !glfwWindowShouldClose(renderer->window())) {
            // frames on input or engine events only; while tokens stream at most ~30 frames/s, as
            // on a CPU device every frame the GUI draws is time the engine does not get
            glfwWaitEventsTimeout(opts.autorun ? 0.05 : 0.25);
            if (g_signalled) break;
            const auto now = std::chrono::steady_clock::now();
            const auto minFrame = std::chrono::milliseconds(s.chat.generating ? 33 : 16);
            if (now - lastFrame < minFrame) std::this_thread::sleep_for(minFrame - (now - lastFrame));
            lastFrame = std::chrono::steady_clock::now();

            for (auto& e : session.poll()) applyEvent(s, e);
            UiActions act;
            if (!dropped.empty()) {
                act.loadModel = dropped.back();  // the model panel shows it like a typed path
                s.model.pathInput = dropped.back();
                dropped.clear();
            }
            bool capture = false;
            if (opts.autorun && run.phase != Autorun::Phase::Finished) capture = stepAutorun(run, s, opts, act);
            if (!run.error.empty()) {
                // the dump still shows what the window shows: the error, and no model
                (void)writeStateDump(s, run, opts, Screenshot{}, renderer->validationMessages(), renderer->deviceName());
                code = fail(run.error);
                break;
            }
            renderer->newFrame(opts.autorun);
            drawPanels(s, act);
            ImGui::Render();
            handleActions(s, act, session);
            if (act.quit) glfwSetWindowShouldClose(renderer->window(), GLFW_TRUE);

            Screenshot shot;
            const bool wantShot = capture && !opts.screenshot.empty();
            if (auto st = renderer->render(ImGui::GetDrawData(), wantShot ? &shot : nullptr); !st.ok()) {
                code = fail(st.message());
                break;
            }
            if (wantShot && shot.width == 0 && ++run.captureAttempts > 30) {
                code = fail("could not read the window back from the swapchain");
                break;
            }
            if (capture && (!wantShot || shot.width > 0)) {
                if (auto st = finishAutorun(s, run, opts, shot, renderer->validationMessages(), renderer->deviceName()); !st.ok()) {
                    code = fail(st.message());
                    break;
                }
                run.phase = Autorun::Phase::Finished;
                if (opts.quitAfterGeneration) break;
            }
        }
        g_dropped = nullptr;
        std::signal(SIGINT, SIG_DFL);
        std::signal(SIGTERM, SIG_DFL);
        if (code == 0 && opts.autorun && opts.quitAfterGeneration && run.phase != Autorun::Phase::Finished)
            code = fail("the window was closed before the autorun finished");
        if (!settingsPath.empty()) saveSettings(settingsPath, s);  // imgui.ini is saved by ImGui
        // the session (engine thread) stops and joins here, before the window goes
    }
    ImGui::DestroyContext();
    glfwTerminate();
    return code;
}

}  // namespace moe::ui
