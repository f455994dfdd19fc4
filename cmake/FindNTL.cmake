# FindNTL: locates Debian's libntl-dev (no CMake config, no .pc) and defines NTL::ntl.
#   NTL_FOUND, NTL_VERSION, NTL_INCLUDE_DIR, NTL_LIBRARY
# The imported target carries NTL's link dependencies (GMP, threads) so consumers never see
# undefined GMP symbols.
find_path(NTL_INCLUDE_DIR NAMES NTL/ZZ.h HINTS ${NTL_DIR} PATH_SUFFIXES include)
find_library(NTL_LIBRARY NAMES ntl HINTS ${NTL_DIR} PATH_SUFFIXES lib)

if(NTL_INCLUDE_DIR AND EXISTS "${NTL_INCLUDE_DIR}/NTL/version.h")
  file(STRINGS "${NTL_INCLUDE_DIR}/NTL/version.h" _ntl_version_line REGEX "define NTL_VERSION ")
  string(REGEX REPLACE ".*\"([0-9.]+)\".*" "\\1" NTL_VERSION "${_ntl_version_line}")
endif()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NTL REQUIRED_VARS NTL_LIBRARY NTL_INCLUDE_DIR VERSION_VAR NTL_VERSION)

if(NTL_FOUND AND NOT TARGET NTL::ntl)
  find_package(Threads REQUIRED)
  find_package(PkgConfig REQUIRED)
  if(NOT TARGET PkgConfig::GMP)
    pkg_check_modules(GMP REQUIRED IMPORTED_TARGET gmp)
  endif()
  add_library(NTL::ntl UNKNOWN IMPORTED)
  set_target_properties(NTL::ntl PROPERTIES
    IMPORTED_LOCATION "${NTL_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NTL_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "PkgConfig::GMP;Threads::Threads")
endif()
mark_as_advanced(NTL_INCLUDE_DIR NTL_LIBRARY)
