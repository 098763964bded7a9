#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <tests/unit/scratch.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <unistd.h>

namespace fs = std::filesystem;

namespace {
fs::path g_run_dir;
std::atomic<int> g_counter{0};
} // namespace

namespace mcpbk::test {

fs::path scratch_dir() {
  const auto *tc = doctest::getContextOptions();
  (void)tc;
  fs::path dir = g_run_dir / ("t" + std::to_string(++g_counter));
  fs::create_directories(dir);
  return dir;
}

void write_file(const fs::path &path, std::string_view bytes) {
  if (path.has_parent_path()) {
    fs::create_directories(path.parent_path());
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_file(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace mcpbk::test

int main(int argc, char **argv) {
  std::string tmpl = (fs::temp_directory_path() / "mcpbk-unit-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) {
    std::perror("mkdtemp");
    return 1;
  }
  g_run_dir = tmpl;
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  int rc = context.run();
  if (rc == 0 && !context.shouldExit()) {
    fs::remove_all(g_run_dir);
  } else if (rc != 0) {
    std::fprintf(stderr, "unit tests: scratch directory kept: %s\n",
                 g_run_dir.c_str());
  }
  return rc;
}
