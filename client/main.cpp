#include <client/cli.hpp>

int main(int argc, char **argv) {
  return mcpbk::client::run(argc, argv);
}
