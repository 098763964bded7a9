#pragma once

#include <common/fs.hpp>
#include <common/time.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace mcpbk::client {

// ANSI colours, used only when Style::enabled.
enum class Colour { none, dim, bold, red, bold_red, green, yellow, cyan };

// Whether human output is coloured: stdout is a tty and NO_COLOR is unset.
struct Style {
  bool enabled = false;
  static Style detect();
  std::string paint(std::string_view text, Colour colour) const;
};

// The colour of a risk level ("low", "medium", "high", "critical").
Colour risk_colour(std::string_view risk);

// "1 snapshot", "3 snapshots": a count and its noun, which takes an "s"
// unless the count is 1.
std::string counted(std::uint64_t n, std::string_view noun);

// A message on one line, for a table cell or a line of its own: each line
// break, with the indentation after it, becomes "; " (an event's message
// may list problems one per line).
std::string one_line(std::string_view text);

// "512 B", "1.5 KiB", "3.2 MiB".
std::string human_size(std::uint64_t bytes);

// "2026-11-21 11:00:00 (3m ago)".
std::string local_with_age(Micros t, Micros now);

// A table of aligned columns; the last column is not padded.
class Table {
public:
  struct Cell {
    std::string text;
    Colour colour = Colour::none;
  };
  explicit Table(std::vector<std::string> headers);
  void add(std::vector<Cell> row);
  bool empty() const { return m_rows.empty(); }
  std::string render(const Style &style) const;

private:
  std::vector<std::string> m_headers;
  std::vector<std::vector<Cell>> m_rows;
};

// Display width of UTF-8 text in terminal columns (wcwidth: CJK two, a
// combining mark none).
std::size_t display_width(std::string_view text);

// Text safe to print in a table: control characters (a newline in a path,
// an escape sequence in a server name) shown as \n, \t, \r or \xNN.
std::string printable(std::string_view text);

// printable() for a line of a file shown as it is (a diff's): tabs, and
// the carriage return of a CRLF line end, are kept. Escape sequences in a
// file must not clear the screen or hide the lines of a restore's preview.
std::string printable_line(std::string_view line);

// printable() for a message of several lines: newlines and tabs kept.
std::string printable_message(std::string_view text);

} // namespace mcpbk::client
