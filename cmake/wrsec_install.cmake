# The installable package: `cmake --install BUILD --prefix P` puts the libraries in P/lib, the
# headers in P/include/wrsec/<folder>/, the wrsec binary in P/bin, the spec bundles and claims in
# P/share/wrsec, and P/lib/cmake/wrsec/wrsecConfig.cmake (+ version file, SameMinorVersion: 0.x
# releases differ in ABI), so that an outside project does
#   find_package(wrsec 0.1 REQUIRED)
#   wrsec_add_plugin(my_plugin SOURCES my_scheme.cpp)   # or link wrsec::definitions etc. itself
include(CMakePackageConfigHelpers)

get_property(_wrsec_libraries GLOBAL PROPERTY WRSEC_LIBRARIES)
install(TARGETS ${_wrsec_libraries} wrsec
        EXPORT wrsecTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir core nn definitions schemes attacks games experiments studies)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/wrsec/${dir}
          FILES_MATCHING PATTERN "*.h")
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/generated/core/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/wrsec/core)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/studies/ DESTINATION ${CMAKE_INSTALL_DATADIR}/wrsec/studies
        FILES_MATCHING PATTERN "*.ini")
install(FILES ${PROJECT_SOURCE_DIR}/paper/claims.json DESTINATION ${CMAKE_INSTALL_DATADIR}/wrsec/paper)

set(_wrsec_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/wrsec)
install(EXPORT wrsecTargets NAMESPACE wrsec:: DESTINATION ${_wrsec_cmake_dir})
# PATH_VARS: the config computes P/share from its own location (@PACKAGE_CMAKE_INSTALL_DATADIR@),
# so an installed tree can be moved.
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/wrsecConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/wrsecConfig.cmake
                              INSTALL_DESTINATION ${_wrsec_cmake_dir}
                              PATH_VARS CMAKE_INSTALL_DATADIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/wrsecConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/wrsecConfig.cmake ${PROJECT_BINARY_DIR}/wrsecConfigVersion.cmake
        DESTINATION ${_wrsec_cmake_dir})
