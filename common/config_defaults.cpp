// The defaults and the loading of config files over them. Kept apart from
// config.cpp (the YAML reader) because the build runs that reader, in
// default_config_gen, to produce the defaults linked in here.

#include <common/config.hpp>
#include <common/default_config.hpp>
#include <common/fs.hpp>

namespace mcpbk {

Config default_config() {
  static const Config k_default = parsed_default_config();
  return k_default;
}

tl::expected<Config, ConfigErrors> parse_config(std::string_view yaml_text,
                                                std::string source_name) {
  return parse_config_over(default_config(), yaml_text, source_name);
}

tl::expected<Config, ConfigErrors>
load_config_file(const std::filesystem::path &file) {
  auto text = read_file(file, 1 << 20);
  if (!text) {
    ConfigErrors errors;
    errors.source = file.string();
    std::string message = text.error().message;
    std::error_code ec;
    if (text.error().code == ErrorCode::not_found &&
        std::filesystem::is_symlink(file, ec)) {
      message = file.string() + " is a link to " +
                std::filesystem::read_symlink(file, ec).string() +
                ", which does not exist; mend the link, or remove it to "
                "use the defaults";
    }
    errors.problems.push_back({"(file)", std::move(message)});
    errors.applied = default_config();
    return tl::unexpected<ConfigErrors>(std::move(errors));
  }
  return parse_config(*text, file.string());
}

} // namespace mcpbk
