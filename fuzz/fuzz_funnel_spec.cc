// Fuzz target: the one-line funnel spec grammar (src/pipeline/funnel_spec_grammar.cc). The input
// is parsed three ways: as a whole funnel line (FunnelSpec::parse), as one part
// (SpecPart::parse) and as YAML handed to FunnelSpec::from_yaml (the `funnel:` key of a config,
// string or map). Each must return a value or throw cascade::Error. Whatever parses must print
// back to itself: parse(str(spec)) == spec and from_yaml(to_yaml(spec)) == spec (the canonical
// line is what run stores and bundles record); a mismatch traps. A crash, a sanitizer report or
// another exception type is a bug too.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "cascade/core/error.h"
#include "cascade/pipeline/funnel_spec.h"

namespace {

void check_round_trip(const cascade::FunnelSpec& spec) {
  if (cascade::FunnelSpec::parse(spec.str()) != spec) __builtin_trap();
  if (cascade::FunnelSpec::from_yaml(spec.to_yaml()) != spec) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  try {
    check_round_trip(cascade::FunnelSpec::parse(in));
  } catch (const cascade::Error&) {
  }
  try {
    const cascade::SpecPart part = cascade::SpecPart::parse(in, "part");
    if (cascade::SpecPart::parse(part.str(), "part") != part) __builtin_trap();
  } catch (const cascade::Error&) {
  }
  YAML::Node node;
  try {
    node = YAML::Load(std::string(in));
  } catch (const YAML::Exception&) {
    return 0;  // not YAML: yaml-cpp's own refusal, before any of our code runs
  }
  try {
    check_round_trip(cascade::FunnelSpec::from_yaml(node));
  } catch (const cascade::Error&) {
  }
  return 0;
}
