#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mcpbk {

// The names among `names` of processes that are running now, each once, in
// the order given. On Linux a process matches by /proc/<pid>/comm (which the
// kernel truncates to 15 characters) or by the file name of its executable;
// one without an executable (a kernel thread, a process that has exited) is
// passed over.
// Elsewhere, and when /proc cannot be read, the list is empty: the check is
// only a hint for a warning.
std::vector<std::string>
running_processes(std::span<const std::string_view> names);

// What release_file_pages() gave back.
struct ReleasedPages {
  std::size_t mappings = 0; // mappings it dropped pages from
  std::size_t bytes = 0;    // resident bytes they held before
};

// Drops this process's page-table entries for its read-only file mappings:
// program and library text, read-only data. Their pages stay in the page
// cache, so the next use is a minor fault, not a disk read; until then they
// no longer count in this process's RSS and the kernel can reclaim them
// without unmapping anything. A mapping that holds private copies (relocated
// data made read-only afterwards, a debugger's breakpoints) is left alone:
// dropping those copies would revert them to the file's bytes. Writable and
// anonymous mappings are never touched. Linux only; elsewhere, and when
// /proc/self/smaps cannot be read, it does nothing.
ReleasedPages release_file_pages();

// Fills the standard descriptors 0, 1 and 2 that are closed with /dev/null
// opened the wrong way round (0 for writing, 1 and 2 for reading), so that
// reads and writes on them still fail with EBADF as on a closed one. A file
// or socket opened later would otherwise take the number: mcpbkctl's output
// went into its socket to the daemon, which ran it as requests, and a
// daemon started with stderr closed would log into whatever took fd 2.
// Call first in main().
void reserve_standard_fds();

} // namespace mcpbk
