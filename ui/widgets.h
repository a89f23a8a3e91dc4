// Small drawing helpers shared by the panels: colour maps, number formatting, token chips.
#pragma once
#include <cstdint>
#include <string>

#include <imgui.h>

#include "trace/expert_cache.h"

namespace moe::ui {

// Perceptual colour (viridis-like) of t in [0, 1].
ImU32 heatColor(float t);
// A distinct colour per expert id (golden-ratio hues), the same in every panel.
ImU32 expertColor(int32_t expert);
// What the last step did with an expert cache slot: its colour in the cache panel, and its name.
ImU32 slotEventColor(cache::SlotEvent e);
const char* slotEventName(cache::SlotEvent e);  // "hit", "miss", "prefetched", "idle", "empty"
// Black or white, whichever reads better on `bg`.
ImU32 contrastText(ImU32 bg);

std::string formatCount(uint64_t n);   // 1234567 -> "1.23 M"
std::string formatBytes(uint64_t n);   // 1536 -> "1.5 KiB"
// A token's text for display: newlines and tabs made visible, empty as "∅".
std::string visibleText(const std::string& piece);

// One token as a clickable inline chip that wraps like text; returns true when clicked.
// `selected` draws it highlighted. Call between BeginTokenFlow / EndTokenFlow.
void beginTokenFlow();
bool tokenChip(const char* id, const std::string& text, bool selected, ImU32 tint = 0);
void endTokenFlow();

// Small "(?)" marker with a tooltip.
void helpMarker(const char* text);

}  // namespace moe::ui
