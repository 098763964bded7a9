#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mcpbk {

// The names among `names` of processes that are running now, each once, in
// the order given. On Linux a process matches by /proc/<pid>/comm (which the
// kernel truncates to 15 characters) or by the file name of its argv[0].
// Elsewhere, and when /proc cannot be read, the list is empty: the check is
// only a hint for a warning.
std::vector<std::string>
running_processes(std::span<const std::string_view> names);

} // namespace mcpbk
