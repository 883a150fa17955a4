# Test registration helpers (modelled on GROMACS's MPI test registration).
#   cdl_add_unit_test(NAME ModelUnitTests SOURCES a.cpp b.cpp LIBS cdl::model [TIMEOUT 300])
#   cdl_add_mpi_test(NAME CommMpiTests SOURCES a.cpp RANKS 2 3 LIBS cdl::comm [TIMEOUT 120])
# Every test has a timeout: a rank stranded outside a collective turns into a failure, not a hang.
find_package(GTest CONFIG QUIET)
if(NOT TARGET GTest::gtest)
  find_package(GTest REQUIRED)
endif()

# Environment for mpiexec in tests only (never in the programs): allow root in containers,
# allow more ranks than cores, and avoid the CMA single-copy path that sandboxes forbid.
set(CDL_MPI_TEST_ENV
    "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;OMPI_MCA_btl_vader_single_copy_mechanism=none;OMPI_MCA_hwloc_base_binding_policy=none"
    CACHE STRING "Environment given to MPI tests")

function(cdl_add_unit_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set(exe "${T_NAME}-bin")
  add_executable(${exe} ${T_SOURCES})
  target_link_libraries(${exe} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main cdl::warnings)
  cdl_use_torch_pch(${exe})
  add_test(NAME ${T_NAME} COMMAND ${exe} --gtest_color=no)
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "unit;${T_LABELS}"
                       WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
endfunction()

function(cdl_add_mpi_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;RANKS;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set(exe "${T_NAME}-bin")
  add_executable(${exe} ${T_SOURCES} ${CDL_SOURCE_DIR}/tests/support/mpi_gtest_main.cpp)
  target_link_libraries(${exe} PRIVATE ${T_LIBS} cdl::test_support GTest::gtest MPI::MPI_CXX
                                       cdl::warnings)
  cdl_use_torch_pch(${exe})
  foreach(n IN LISTS T_RANKS)
    set(test "${T_NAME}.np${n}")
    add_test(NAME ${test}
             COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${n} ${MPIEXEC_PREFLAGS}
                     $<TARGET_FILE:${exe}> ${MPIEXEC_POSTFLAGS} --gtest_color=no)
    set_tests_properties(${test} PROPERTIES TIMEOUT ${T_TIMEOUT} PROCESSORS ${n}
                         LABELS "mpi;${T_LABELS}" ENVIRONMENT "${CDL_MPI_TEST_ENV}"
                         WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  endforeach()
endfunction()
