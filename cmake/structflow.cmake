# structflow_module(NAME [DEPS targets...] [TEST_DEPS targets...])
# Builds src/NAME/**/*.cpp (minus *_test.cpp, subfolders included) as the static library structflow_NAME, and
# src/NAME/*_test.cpp as the GoogleTest binary NAME_test whose tests ctest discovers.
# New files are picked up on the next build (CONFIGURE_DEPENDS), so adding a file needs no edit here.
function(structflow_module name)
  cmake_parse_arguments(ARG "" "" "DEPS;TEST_DEPS;TEST_LABELS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  file(GLOB_RECURSE tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
  if(tests)
    list(REMOVE_ITEM srcs ${tests})
  endif()
  if(srcs)
    add_library(structflow_${name} STATIC ${srcs})
    target_include_directories(structflow_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(structflow_${name} PUBLIC ${ARG_DEPS})
  else()
    add_library(structflow_${name} INTERFACE)
    target_include_directories(structflow_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    target_link_libraries(structflow_${name} INTERFACE ${ARG_DEPS})
  endif()
  if(tests)
    add_executable(${name}_test ${tests})
    target_link_libraries(${name}_test PRIVATE structflow_${name} ${ARG_TEST_DEPS}
                          GTest::gtest GTest::gmock GTest::gtest_main)
    target_compile_definitions(${name}_test PRIVATE
      STRUCTFLOW_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      STRUCTFLOW_BINARY_DIR="${PROJECT_BINARY_DIR}")
    gtest_discover_tests(${name}_test DISCOVERY_MODE PRE_TEST
      PROPERTIES LABELS unit TIMEOUT 300)
  endif()
endfunction()
