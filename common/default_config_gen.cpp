// default_config_gen CONFIG_YAML OUTPUT_CPP [FUNCTION]
//
// A build step: parses the shipped config.yaml with the programs' own reader
// (parse_config_over on an empty Config) and writes a C++ source defining
// parsed_default_config(), which returns that Config. The programs then
// start without parsing YAML for their defaults (yaml-cpp took about 1 M
// instructions of every mcpbkctl start for those 400 bytes). A config.yaml
// that does not parse fails the build with the reader's messages. The unit
// tests also run it, as FUNCTION, on a config that sets every key.
//
// Every field of Config is written below; the unit test of default_config()
// compares the result with parsing the embedded text, so a field added to
// Config and not here fails that test.

#include <common/config.hpp>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace {

using namespace mcpbk;

// A C++ string literal of any bytes: printable ASCII as is, the rest as
// three-digit octal escapes (which, unlike \x, never swallow what follows).
std::string literal(const std::string &text) {
  std::string out = "\"";
  for (const unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f && c != '?') {
      out += static_cast<char>(c);
    } else {
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\%03o", c);
      out += escaped;
    }
  }
  return out + "\"";
}

std::string strings(const std::vector<std::string> &list) {
  std::string out = "{";
  for (const auto &item : list) {
    out += (out.size() > 1 ? ", " : "") + literal(item);
  }
  return out + "}";
}

template <typename Enum> std::string enumerator(const char *type, Enum value) {
  return std::string("static_cast<") + type + ">(" +
         std::to_string(static_cast<int>(value)) + ")";
}

std::string source_of(const Config &c, const std::string &function) {
  std::ostringstream o;
  o << "// Generated from config.yaml by common/default_config_gen.cpp. Do not "
       "edit.\n"
       "#include <common/default_config.hpp>\n\n"
       "namespace mcpbk {\n\n"
       "Config "
    << function
    << "() {\n"
       "  Config c;\n";
  o << "  c.store.dir = " << literal(c.store.dir) << ";\n";
  o << "  c.store.compression = "
    << enumerator("Compression", c.store.compression) << ";\n";
  o << "  c.store.max_file_bytes = " << c.store.max_file_bytes << "u;\n";
  o << "  c.watch.backend = " << enumerator("WatchBackend", c.watch.backend)
    << ";\n";
  o << "  c.watch.debounce_ms = " << c.watch.debounce_ms << "u;\n";
  o << "  c.watch.max_delay_ms = " << c.watch.max_delay_ms << "u;\n";
  o << "  c.watch.rescan_interval_s = " << c.watch.rescan_interval_s << "u;\n";
  o << "  c.watch.poll_interval_ms = " << c.watch.poll_interval_ms << "u;\n";
  for (const auto &entry : c.watch.paths) {
    o << "  c.watch.paths.push_back({" << literal(entry.path) << ", "
      << literal(entry.host) << "});\n";
  }
  o << "  c.watch.project_roots = std::vector<std::string>"
    << strings(c.watch.project_roots) << ";\n";
  for (const auto &[name, settings] : c.hosts) {
    o << "  c.hosts[" << literal(name)
      << "].enabled = " << (settings.enabled ? "true" : "false") << ";\n";
    if (settings.trigger) {
      o << "  c.hosts[" << literal(name)
        << "].trigger = " << enumerator("Trigger", *settings.trigger) << ";\n";
    }
  }
  const RetentionPolicy &r = c.retention;
  o << "  c.retention.max_count = " << r.max_count << "u;\n";
  o << "  c.retention.max_age_days = " << r.max_age_days << "u;\n";
  o << "  c.retention.min_keep = " << r.min_keep << "u;\n";
  o << "  c.retention.keep_daily = " << r.keep_daily << "u;\n";
  o << "  c.retention.keep_weekly = " << r.keep_weekly << "u;\n";
  o << "  c.retention.keep_monthly = " << r.keep_monthly << "u;\n";
  o << "  c.prune_interval_s = " << c.prune_interval_s << "u;\n";
  o << "  c.ipc.socket = " << literal(c.ipc.socket) << ";\n";
  o << "  c.log.level = " << literal(c.log.level) << ";\n";
  o << "  c.log.format = " << enumerator("LogFormat", c.log.format) << ";\n";
  o << "  c.notify.command = std::vector<std::string>"
    << strings(c.notify.command) << ";\n";
  o << "  return c;\n}\n\n} // namespace mcpbk\n";
  return o.str();
}

} // namespace

int main(int argc, char **argv) {
  if (argc != 3 && argc != 4) {
    std::cerr << "usage: default_config_gen CONFIG_YAML OUTPUT_CPP "
                 "[FUNCTION]\n";
    return 2;
  }
  const std::string function = argc == 4 ? argv[3] : "parsed_default_config";
  std::ifstream in(argv[1], std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    std::cerr << "default_config_gen: cannot read " << argv[1] << "\n";
    return 1;
  }
  const auto config = parse_config_over(Config{}, text.str(), argv[1]);
  if (!config) {
    std::cerr << "default_config_gen: the shipped config is invalid:\n"
              << config.error().to_string();
    return 1;
  }
  const std::string source = source_of(*config, function);
  // Rewritten only when it changes, so an edit to a comment of config.yaml
  // does not rebuild everything that links the defaults.
  std::ifstream old(argv[2], std::ios::binary);
  std::stringstream old_text;
  old_text << old.rdbuf();
  if (old && old_text.str() == source) {
    return 0;
  }
  const std::string temp = std::string(argv[2]) + ".tmp";
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    out << source;
    if (!out.flush()) {
      std::cerr << "default_config_gen: cannot write " << temp << "\n";
      return 1;
    }
  }
  if (std::rename(temp.c_str(), argv[2]) != 0) {
    std::cerr << "default_config_gen: cannot write " << argv[2] << "\n";
    return 1;
  }
  return 0;
}
