// Settings file of the GUI.
#include "ui/settings.h"

#include <algorithm>
#include <fstream>

#include <nlohmann/json.hpp>

#include "ui/conversation.h"

namespace moe::ui {

void loadSettings(const std::string& path, AppState& s) {
    std::ifstream f(path);
    if (!f) return;
    nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
    if (!j.is_object()) return;
    try {
        if (j.contains("recent_models"))
            for (const auto& r : j["recent_models"])
                if (r.is_string()) s.model.recent.push_back(r.get<std::string>());
        s.model.device = j.value("device", s.model.device);
        s.model.cpu = j.value("cpu", s.model.cpu);
        s.perf.profile = j.value("profile", s.perf.profile);
        s.fontSize = std::clamp(j.value("font_size", s.fontSize), 8.0f, 40.0f);
        s.files.conversationPath = j.value("conversation_path", s.files.conversationPath);
        s.files.tracePath = j.value("trace_path", s.files.tracePath);
        if (j.contains("chat")) {
            // the chat settings use the conversation file's format, without messages
            Conversation unused;
            nlohmann::json c = j["chat"];
            c["format"] = "moescope-conversation";
            c["messages"] = nlohmann::json::array();
            (void)conversationFromJson(c, unused, s.chat.settings);
        }
    } catch (const nlohmann::json::exception&) {
        // a hand-edited file with wrong types: keep what was read so far
    }
    if (s.model.recent.size() > 10) s.model.recent.resize(10);
}

void saveSettings(const std::string& path, const AppState& s) {
    nlohmann::json chat = conversationToJson(Conversation{}, s.chat.settings);
    chat.erase("messages");
    chat.erase("format");
    nlohmann::json j{{"recent_models", s.model.recent},
                     {"device", s.model.device},
                     {"cpu", s.model.cpu},
                     {"profile", s.perf.profile},
                     {"font_size", s.fontSize},
                     {"conversation_path", s.files.conversationPath},
                     {"trace_path", s.files.tracePath},
                     {"chat", chat}};
    std::ofstream f(path);
    if (f) f << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

void addRecent(ModelState& m, const std::string& path) {
    std::erase(m.recent, path);
    m.recent.insert(m.recent.begin(), path);
    if (m.recent.size() > 10) m.recent.resize(10);
}

}  // namespace moe::ui
