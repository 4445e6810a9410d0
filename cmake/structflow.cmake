# structflow_module(NAME [DEPS targets...] [TEST_DEPS targets...] [INTEGRATION_DEPS targets...])
# Builds src/NAME/**/*.cpp (minus *_test.cpp, subfolders included) as the static library
# structflow_NAME, and the tests beside it:
#   *_test.cpp              -> NAME_test, label unit (no network, no sleeps);
#   *_integration_test.cpp  -> NAME_integration_test, label integration (against the in-process
#                              simulator; links TEST_DEPS and INTEGRATION_DEPS);
#   tests named DISABLED_*  -> run by the ctest test NAME_soak, label soak (long runs).
# New files are picked up on the next build (CONFIGURE_DEPENDS), so adding a file needs no edit here.
function(structflow_module name)
  cmake_parse_arguments(ARG "" "" "DEPS;TEST_DEPS;INTEGRATION_DEPS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  file(GLOB_RECURSE tests CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*_test.cpp)
  if(tests)
    list(REMOVE_ITEM srcs ${tests})
  endif()
  if(srcs)
    add_library(structflow_${name} STATIC ${srcs})
    target_include_directories(structflow_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(structflow_${name} PUBLIC ${ARG_DEPS})
  else()
    add_library(structflow_${name} INTERFACE)
    target_include_directories(structflow_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/include)
    target_link_libraries(structflow_${name} INTERFACE ${ARG_DEPS})
  endif()
  set(unit_tests ${tests})
  set(integration_tests ${tests})
  list(FILTER unit_tests EXCLUDE REGEX "_integration_test\\.cpp$")
  list(FILTER integration_tests INCLUDE REGEX "_integration_test\\.cpp$")
  foreach(kind unit integration)
    if(kind STREQUAL "unit")
      set(target ${name}_test)
      set(sources ${unit_tests})
      set(extra_deps "")
      set(timeout 300)
    else()
      set(target ${name}_integration_test)
      set(sources ${integration_tests})
      set(extra_deps ${ARG_INTEGRATION_DEPS})
      set(timeout 120)
    endif()
    if(NOT sources)
      continue()
    endif()
    add_executable(${target} ${sources})
    target_link_libraries(${target} PRIVATE structflow_${name} ${ARG_TEST_DEPS} ${extra_deps}
                          GTest::gtest GTest::gmock GTest::gtest_main)
    target_compile_definitions(${target} PRIVATE
      STRUCTFLOW_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
      STRUCTFLOW_BINARY_DIR="${PROJECT_BINARY_DIR}")
    gtest_discover_tests(${target} DISCOVERY_MODE PRE_TEST
      PROPERTIES LABELS ${kind} TIMEOUT ${timeout})
    set(disabled "")
    foreach(src ${sources})
      file(STRINGS ${src} hits REGEX "DISABLED_")
      list(APPEND disabled ${hits})
    endforeach()
    if(disabled)
      add_test(NAME ${name}_${kind}_soak COMMAND ${target} --gtest_also_run_disabled_tests
               --gtest_filter=*DISABLED_*)
      set_tests_properties(${name}_${kind}_soak PROPERTIES LABELS soak TIMEOUT 1800)
    endif()
  endforeach()
endfunction()
