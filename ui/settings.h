// What the app remembers between runs, in <configDir>/settings.json: recent models, the device,
// profiling, chat settings and the font size. The window layout is ImGui's imgui.ini next to it.
#pragma once
#include <string>

#include "ui/state.h"

namespace moe::ui {

// Fills the remembered parts of the state; a missing or unreadable file changes nothing.
void loadSettings(const std::string& path, AppState& s);
// Best effort: an unwritable folder only means nothing is remembered.
void saveSettings(const std::string& path, const AppState& s);
// Moves `path` to the front of the recent list (at most 10 entries).
void addRecent(ModelState& m, const std::string& path);

}  // namespace moe::ui
