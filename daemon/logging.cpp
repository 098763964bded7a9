#include <daemon/logging.hpp>

#include <common/time.hpp>

#include <nlohmann/json.hpp>
#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>

namespace mcpbk::daemon {

namespace {

// One JSON object per line: {"time", "level", "msg"}.
class JsonFormatter final : public spdlog::formatter {
public:
  void format(const spdlog::details::log_msg &msg,
              spdlog::memory_buf_t &dest) override {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        msg.time.time_since_epoch())
                        .count();
    nlohmann::json line = {
        {"time", format_iso8601(us)},
        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                              spdlog::level::to_string_view(msg.level).size())},
        {"msg", std::string(msg.payload.data(), msg.payload.size())}};
    const std::string text =
        line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
        "\n";
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

} // namespace

bool configure_logging(LogFormat format, const std::string &level) {
  auto logger = spdlog::get("mcpbkd");
  if (!logger) {
    logger = spdlog::stderr_logger_st("mcpbkd");
    spdlog::set_default_logger(logger);
  }
  if (format == LogFormat::json) {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  }
  logger->flush_on(spdlog::level::info);
  const auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off") {
    return false;
  }
  logger->set_level(lvl);
  return true;
}

} // namespace mcpbk::daemon
