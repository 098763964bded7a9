#include <client/cli.hpp>

#include <common/process.hpp>

int main(int argc, char **argv) {
  mcpbk::reserve_standard_fds();
  return mcpbk::client::run(argc, argv);
}
