# Install rules for everything but the two programs (their own CMakeLists
# install them): the user service definition, man pages, shell completions,
# and CPack's Debian package. Included from the top-level CMakeLists.txt.
include(GNUInstallDirs)

# systemd looks for packaged user units in <prefix>/lib/systemd/user, never in
# a multiarch libdir, so this is not CMAKE_INSTALL_LIBDIR.
set(MCPBK_SYSTEMD_USER_UNIT_DIR "lib/systemd/user" CACHE STRING
  "Where the systemd user unit goes, relative to the install prefix")
set(MCPBK_LAUNCHD_DIR "${CMAKE_INSTALL_DATADIR}/mcpbk/launchd" CACHE STRING
  "Where the LaunchAgent plist template goes, relative to the install prefix")
if(APPLE)
  set(mcpbk_default_systemd OFF)
else()
  set(mcpbk_default_systemd ON)
endif()
option(MCPBK_INSTALL_SYSTEMD_UNIT "Install the systemd user unit"
  ${mcpbk_default_systemd})
option(MCPBK_INSTALL_LAUNCHD_PLIST "Install the LaunchAgent plist" ${APPLE})

# The unit and the plist name the installed mcpbkd by absolute path, and the
# prefix is only known at install time (`cmake --install --prefix DIR`, or
# /usr when CPack stages a package), so they are configured then, from
# cmake_install.cmake, where CMAKE_INSTALL_PREFIX is the real one. The path
# excludes DESTDIR: it is where the binary ends up, not where it is staged.
function(mcpbk_install_configured source destination)
  get_filename_component(name "${source}" NAME)
  set(staged "${CMAKE_CURRENT_BINARY_DIR}/install-configured/${name}")
  install(CODE "
    if(IS_ABSOLUTE \"${CMAKE_INSTALL_BINDIR}\")
      set(MCPBKD_PATH \"${CMAKE_INSTALL_BINDIR}/mcpbkd\")
    else()
      set(MCPBKD_PATH \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}/mcpbkd\")
    endif()
    set(LOG_PATH \"@LOG_PATH@\")
    configure_file(\"${source}\" \"${staged}\" @ONLY)
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${destination}\"
      TYPE FILE PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ
      FILES \"${staged}\")
  ")
endfunction()

if(MCPBK_INSTALL_SYSTEMD_UNIT)
  mcpbk_install_configured("${PROJECT_SOURCE_DIR}/systemd/mcpbkd.service"
    "${MCPBK_SYSTEMD_USER_UNIT_DIR}")
endif()
if(MCPBK_INSTALL_LAUNCHD_PLIST)
  # @LOG_PATH@ stays: it is per user, filled in by scripts/install.
  mcpbk_install_configured("${PROJECT_SOURCE_DIR}/launchd/com.mcpbk.mcpbkd.plist"
    "${MCPBK_LAUNCHD_DIR}")
endif()

# Man pages are written in man(7) roff and installed as they are.
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/mcpbkd.8
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${PROJECT_SOURCE_DIR}/docs/man/mcpbkctl.1
  DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

# Shell completions, where each shell looks for vendor completions.
install(FILES ${PROJECT_SOURCE_DIR}/scripts/completions/mcpbkctl.bash
  DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions
  RENAME mcpbkctl)
install(FILES ${PROJECT_SOURCE_DIR}/scripts/completions/_mcpbkctl
  DESTINATION ${CMAKE_INSTALL_DATADIR}/zsh/site-functions)
install(FILES ${PROJECT_SOURCE_DIR}/scripts/completions/mcpbkctl.fish
  DESTINATION ${CMAKE_INSTALL_DATADIR}/fish/vendor_completions.d)

# Debian package: `cpack -G DEB` in a (Release) build dir.
set(MCPBK_PACKAGE_MAINTAINER "mcpbk maintainers <mcpbk@users.noreply.github.com>"
  CACHE STRING "Maintainer field of the Debian package")
set(CPACK_GENERATOR "DEB" CACHE STRING "CPack generators")
set(CPACK_PACKAGE_NAME "mcpbk")
set(CPACK_PACKAGE_VENDOR "mcpbk")
set(CPACK_PACKAGE_CONTACT "${MCPBK_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "snapshots and restores AI hosts' MCP configuration files")
set(CPACK_PACKAGE_DESCRIPTION
  "mcpbkd, a per-user daemon, watches the MCP server configuration files of AI
host applications (Claude Desktop, Claude Code, VS Code, Cursor, Gemini CLI and
more), snapshots every change into a local store and lets mcpbkctl list, diff
and restore them. Enable it per user with: systemctl --user enable --now mcpbkd")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${MCPBK_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION "utils")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
include(CPack)
