// Where moescope finds its files: the bundled model, and the per-user configuration folder
// (recent models, GUI settings and window layout).
#pragma once
#include <string>

namespace moe {

// assets/moescope-tiny.gguf next to the executable's install or in the source tree (the file
// may not exist: callers check and say so).
std::string bundledModelPath();

// $XDG_CONFIG_HOME/moescope, else ~/.config/moescope; created if missing. Empty when there is
// no usable home (nothing is then remembered).
std::string configDir();

}  // namespace moe
