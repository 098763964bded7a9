#pragma once

#include <filesystem>

namespace mcpbk::test {

// A fresh, empty directory for the running test case, inside the run's
// scratch directory (kept and printed when the run fails).
std::filesystem::path scratch_dir();

// Writes bytes to a file, creating parent directories.
void write_file(const std::filesystem::path &path, std::string_view bytes);

// Reads a whole file.
std::string read_file(const std::filesystem::path &path);

} // namespace mcpbk::test
