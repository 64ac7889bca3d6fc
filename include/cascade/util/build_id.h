// The identity of the running code, for caches whose entries the code produced.
#pragma once

#include <string>

namespace cascade {

/// The GNU build ID (hex) of the binary or shared object that holds Cascade's code: it changes
/// whenever the code is rebuilt with any change. Empty when the linker wrote none.
const std::string& code_build_id();

}  // namespace cascade
