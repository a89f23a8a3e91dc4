// The bridge between the panels and the engine thread: Session events update the GUI's state,
// and the panels' actions become Session commands. Nothing here draws.
#pragma once
#include "runtime/session.h"
#include "ui/state.h"

namespace moe::ui {

void applyEvent(AppState& s, const rt::SessionEvent& e);

// Turns one frame's actions into commands, and runs the local ones (new chat, files); file
// results go to s.files.message.
void handleActions(AppState& s, const UiActions& act, rt::Session& session);

// The command that starts a reply to the conversation as it stands: its chat messages, with the
// chat panel's thinking controls as the template's options when the loaded model's replies have
// reasoning, or the completion text.
rt::GenerateCmd generateCommand(const AppState& s);

// Asks the engine to load a model with the device chosen in the model panel.
void requestLoad(AppState& s, rt::Session& session, const std::string& path);

}  // namespace moe::ui
