# Small helpers shared by every folder's CMakeLists.txt.

# Warnings for one target; -Werror only when WRSEC_WERROR is ON (CI and presets).
function(wrsec_set_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wshadow -Wpedantic -Wnon-virtual-dtor
                                           -Woverloaded-virtual)
  # GCC 12 reports false -Wrestrict, -Wstringop-overflow and -Warray-bounds warnings inside
  # libstdc++'s string operator+ at -O2/-O3 (GCC bugs 105329, 105651; the last two appear once the
  # precompiled headers change what is inlined); they say nothing about our code, and ASan+UBSan
  # check bounds at run time.
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    target_compile_options(${target} PRIVATE -Wno-restrict -Wno-stringop-overflow -Wno-array-bounds)
  endif()
  if(WRSEC_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

# Numerics that do not consult the machine (docs/numerics.md). Set globally so that every
# translation unit (libraries, tests, benchmarks) agrees; Eigen's templates must be instantiated
# the same way everywhere. WRSEC_NUMERICS_OPTIONS / WRSEC_NUMERICS_DEFINITIONS are what a
# plug-in built against wrsec must use too.
#   ISA level x86-64-v3 (AVX2 + FMA) for every reduction: no -march=native, no runtime dispatch;
#     the binaries refuse to start on a CPU without it (core/isa.cpp).
#   -ffp-contract=off: the compiler never fuses a*b+c on its own; FMAs appear only where the code
#     (or Eigen's kernels) asks for them, so the bits do not depend on the optimiser's choices.
#   Eigen: fixed GEMM blocking (kc, mc, nc below) instead of blocking derived from the cache sizes
#     CPUID reports; no CPUID at all; no Eigen-internal threading (wrsec parallelises over fixed
#     output tiles itself).
if(NOT CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
  message(FATAL_ERROR "wrsec pins its numerics to the x86-64-v3 ISA level; "
                      "${CMAKE_SYSTEM_PROCESSOR} is not supported")
endif()
set(WRSEC_ISA_LEVEL "x86-64-v3")
set(WRSEC_NUMERICS_OPTIONS -march=x86-64-v3 -mtune=generic -ffp-contract=off)
set(WRSEC_NUMERICS_DEFINITIONS
    EIGEN_DONT_PARALLELIZE EIGEN_NO_CPUID EIGEN_TEST_SPECIFIC_BLOCKING_SIZES=1
    EIGEN_TEST_SPECIFIC_BLOCKING_SIZE_K=256 EIGEN_TEST_SPECIFIC_BLOCKING_SIZE_M=480
    EIGEN_TEST_SPECIFIC_BLOCKING_SIZE_N=1024 WRSEC_ISA_LEVEL="${WRSEC_ISA_LEVEL}")
add_compile_options(${WRSEC_NUMERICS_OPTIONS})
add_compile_definitions(${WRSEC_NUMERICS_DEFINITIONS})
# Code built against the installed package (plug-ins) gets the same settings from wrsec::core.
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

# Sanitizer flags apply to everything built in this tree, so set them once, globally.
if(WRSEC_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
# libFuzzer's coverage instrumentation (clang) on the libraries and the harnesses (fuzz/, linked
# with -fsanitize=fuzzer), so the harnesses see the edges of the code they call; the other
# executables get the sanitizer runtime's no-op coverage hooks.
set(WRSEC_COVERAGE_OPTIONS "")
if(WRSEC_FUZZ)
  set(WRSEC_COVERAGE_OPTIONS -fsanitize=fuzzer-no-link)
endif()

# wrsec_add_library(<folder> SOURCES ... DEPS ... PRIVATE_DEPS ...): the one library target of a
# code folder, a shared library named wrsec_<folder> with alias wrsec::<folder> (exported as
# wrsec::<folder> by the installed package). Shared, so that the wrsec binary and every plug-in it
# loads use one copy of each registry. Headers are included from the repo root (installed under
# include/wrsec). DEPS are part of the link interface (wrsec targets, and the outside libraries
# that public headers include); PRIVATE_DEPS are not.
function(wrsec_add_library folder)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(wrsec_${folder} SHARED ${ARG_SOURCES})
  add_library(wrsec::${folder} ALIAS wrsec_${folder})
  set_target_properties(wrsec_${folder} PROPERTIES
    EXPORT_NAME ${folder}
    VERSION ${PROJECT_VERSION}
    SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})
  target_include_directories(wrsec_${folder} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/generated>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/wrsec>)
  target_compile_features(wrsec_${folder} PUBLIC cxx_std_20)
  target_link_libraries(wrsec_${folder} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_options(wrsec_${folder} PRIVATE ${WRSEC_COVERAGE_OPTIONS})
  wrsec_set_warnings(wrsec_${folder})
  # A unity build compiles each library as a few large translation units, so the template code
  # (Eigen kernels, JSON) its sources share is instantiated and optimised once per batch instead
  # of once per source (the CI presets; dev keeps one unit per source for include hygiene).
  set_target_properties(wrsec_${folder} PROPERTIES UNITY_BUILD ${WRSEC_UNITY_BUILD})
  # The two heavy header libraries nearly every source includes, parsed once per library instead
  # of once per source (about a quarter of the build's compile time; CI runs under 15 minutes).
  if(WRSEC_PCH AND NOT folder STREQUAL "core")
    target_precompile_headers(wrsec_${folder} PRIVATE <nlohmann/json.hpp> <Eigen/Core>)
  endif()
  set_property(GLOBAL APPEND PROPERTY WRSEC_LIBRARIES wrsec_${folder})
endfunction()

# The test code itself is not hot (the libraries keep the build type's optimisation): -O1
# roughly halves the compile time of large test files with GCC, and -O0 halves it again under
# the sanitizers, where instrumented optimisation is the bulk of the build.
function(wrsec_test_optimisation target)
  if(WRSEC_SANITIZE)
    target_compile_options(${target} PRIVATE -O0)
  elseif(NOT CMAKE_BUILD_TYPE STREQUAL "Debug")
    target_compile_options(${target} PRIVATE -O1)
  endif()
endfunction()

# wrsec_add_test(<name> [SANITIZE] SOURCES ... DEPS ... LABELS ...): one GoogleTest executable
# whose cases CTest discovers, each carrying the given labels (unit | slow | golden). SANITIZE
# marks the unit suites the ASan+UBSan build compiles and runs: those of code that parses outside
# input or handles raw memory, files and processes (the README lists them).
function(wrsec_add_test name)
  cmake_parse_arguments(ARG "SANITIZE" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  # The sanitizer build compiles only the unit suites marked SANITIZE.
  if(WRSEC_SANITIZE AND (NOT ARG_SANITIZE OR NOT "unit" IN_LIST ARG_LABELS))
    return()
  endif()
  add_executable(${name} ${ARG_SOURCES})
  wrsec_test_optimisation(${name})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE WRSEC_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  wrsec_set_warnings(${name})
  if(TARGET wrsec_test_pch)
    target_precompile_headers(${name} REUSE_FROM wrsec_test_pch)
    target_link_libraries(${name} PRIVATE Eigen3::Eigen nlohmann_json::nlohmann_json
                                          OpenMP::OpenMP_CXX)
    target_compile_features(${name} PRIVATE cxx_std_20)
  endif()
  gtest_discover_tests(${name} TEST_LIST ${name}_TESTS PROPERTIES TIMEOUT ${ARG_TIMEOUT}
                       DISCOVERY_TIMEOUT 60)
  # gtest_discover_tests splits list-valued properties, so labels are set by a second include
  # file that CTest reads after the discovered list.
  set(label_script "${CMAKE_CURRENT_BINARY_DIR}/${name}_labels.cmake")
  file(WRITE "${label_script}"
       "if(${name}_TESTS)\n  set_tests_properties(\${${name}_TESTS} PROPERTIES LABELS \"${ARG_LABELS}\")\nendif()\n")
  set_property(DIRECTORY APPEND PROPERTY TEST_INCLUDE_FILES "${label_script}")
endfunction()

# Provenance captured at configure time and compiled into wrsec::experiments.
function(wrsec_capture_provenance)
  find_package(Git QUIET)
  set(describe "unknown")
  set(dirty "unknown")
  if(GIT_FOUND)
    execute_process(COMMAND ${GIT_EXECUTABLE} describe --always --dirty --tags
                    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} OUTPUT_VARIABLE describe
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET RESULT_VARIABLE rc)
    if(NOT rc EQUAL 0 OR describe STREQUAL "")
      set(describe "unknown")
    endif()
  endif()
  set(WRSEC_GIT_DESCRIBE "${describe}" PARENT_SCOPE)
endfunction()
