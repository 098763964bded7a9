#include <client/format.hpp>

#include <cstdio>
#include <cstdlib>
#include <cwchar>
#include <locale.h>
#include <unistd.h>
#include <wchar.h>

namespace mcpbk::client {

Style Style::detect() {
  Style style;
  const char *no_color = std::getenv("NO_COLOR");
  const char *term = std::getenv("TERM");
  // TERM=dumb (Emacs' shell, some CI logs) shows escape codes as text.
  style.enabled = ::isatty(STDOUT_FILENO) != 0 &&
                  (no_color == nullptr || *no_color == 0) &&
                  (term == nullptr || std::string_view(term) != "dumb");
  return style;
}

std::string Style::paint(std::string_view text, Colour colour) const {
  if (!enabled || colour == Colour::none) {
    return std::string(text);
  }
  const char *code = "";
  switch (colour) {
  case Colour::none:
    break;
  case Colour::dim:
    code = "\033[2m";
    break;
  case Colour::bold:
    code = "\033[1m";
    break;
  case Colour::red:
    code = "\033[31m";
    break;
  case Colour::bold_red:
    code = "\033[1;31m";
    break;
  case Colour::green:
    code = "\033[32m";
    break;
  case Colour::yellow:
    code = "\033[33m";
    break;
  case Colour::cyan:
    code = "\033[36m";
    break;
  }
  return std::string(code) + std::string(text) + "\033[0m";
}

Colour risk_colour(std::string_view risk) {
  if (risk == "critical") {
    return Colour::bold_red;
  }
  if (risk == "high") {
    return Colour::red;
  }
  if (risk == "medium") {
    return Colour::yellow;
  }
  return Colour::green;
}

std::string counted(std::uint64_t n, std::string_view noun) {
  std::string out = std::to_string(n);
  out += ' ';
  out += noun;
  if (n != 1) {
    out += 's';
  }
  return out;
}

std::string one_line(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\n') {
      out += text[i];
      continue;
    }
    while (i + 1 < text.size() && (text[i + 1] == ' ' || text[i + 1] == '\t')) {
      ++i;
    }
    if (!out.empty() && out.back() == ':') {
      out += ' ';
    } else if (!out.empty() && i + 1 < text.size()) {
      out += "; ";
    }
  }
  return out;
}

std::string human_size(std::uint64_t bytes) {
  if (bytes < 1024) {
    return std::to_string(bytes) + " B";
  }
  const char *units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(units)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof(text), "%.1f %s", value, units[unit]);
  return text;
}

std::string local_with_age(Micros t, Micros now) {
  return format_local(t) + " (" + relative_age(t, now) + ")";
}

std::size_t display_width(std::string_view text) {
  // wcwidth() in a UTF-8 locale of this thread's own, whatever the user's
  // LANG: CJK characters take two columns, combining marks none.
  static const locale_t utf8 = ::newlocale(LC_CTYPE_MASK, "C.UTF-8", nullptr);
  std::size_t width = 0;
  if (utf8 == nullptr) {
    // No such locale (not glibc): one column per code point.
    for (const char c : text) {
      width += (static_cast<unsigned char>(c) & 0xC0) != 0x80 ? 1 : 0;
    }
    return width;
  }
  const locale_t previous = ::uselocale(utf8);
  std::mbstate_t state{};
  const char *p = text.data();
  std::size_t left = text.size();
  while (left > 0) {
    wchar_t wc = 0;
    const std::size_t n = std::mbrtowc(&wc, p, left, &state);
    if (n == static_cast<std::size_t>(-1) ||
        n == static_cast<std::size_t>(-2) || n == 0) {
      // Not UTF-8 (a byte shown as one replacement character), or a NUL.
      state = {};
      ++width;
      ++p;
      --left;
      continue;
    }
    const int w = ::wcwidth(wc);
    width += w < 0 ? 1 : static_cast<std::size_t>(w);
    p += n;
    left -= n;
  }
  ::uselocale(previous);
  return width;
}

namespace {

// printable(), keeping the characters `keep` says to.
template <typename Keep>
std::string escape_controls(std::string_view text, Keep keep) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if ((u >= 0x20 && u != 0x7F) || keep(text, i)) {
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      char escaped[8];
      std::snprintf(escaped, sizeof(escaped), "\\x%02x", u);
      out += escaped;
    }
  }
  return out;
}

} // namespace

std::string printable(std::string_view text) {
  return escape_controls(text,
                         [](std::string_view, std::size_t) { return false; });
}

std::string printable_line(std::string_view line) {
  return escape_controls(line, [](std::string_view text, std::size_t i) {
    return text[i] == '\t' || (text[i] == '\r' && i + 1 == text.size());
  });
}

std::string printable_message(std::string_view text) {
  return escape_controls(text, [](std::string_view t, std::size_t i) {
    return t[i] == '\n' || t[i] == '\t';
  });
}

Table::Table(std::vector<std::string> headers)
    : m_headers(std::move(headers)) {}

void Table::add(std::vector<Cell> row) {
  row.resize(m_headers.size());
  for (Cell &cell : row) {
    cell.text = printable(cell.text);
  }
  m_rows.push_back(std::move(row));
}

std::string Table::render(const Style &style) const {
  std::vector<std::size_t> widths(m_headers.size(), 0);
  for (std::size_t i = 0; i < m_headers.size(); ++i) {
    widths[i] = display_width(m_headers[i]);
  }
  for (const auto &row : m_rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(row[i].text));
    }
  }
  std::string out;
  const auto line = [&](const std::vector<Cell> &cells) {
    std::string text;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const bool last = i + 1 == cells.size();
      text += style.paint(cells[i].text, cells[i].colour);
      if (!last) {
        text += std::string(widths[i] - display_width(cells[i].text) + 2, ' ');
      }
    }
    while (!text.empty() && text.back() == ' ') {
      text.pop_back();
    }
    out += text + '\n';
  };
  std::vector<Cell> header;
  for (const auto &h : m_headers) {
    header.push_back({h, Colour::bold});
  }
  line(header);
  for (const auto &row : m_rows) {
    line(row);
  }
  return out;
}

} // namespace mcpbk::client
