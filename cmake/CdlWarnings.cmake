# Warnings through an INTERFACE target, never through CMAKE_CXX_FLAGS.
add_library(cdl_warnings INTERFACE)
add_library(cdl::warnings ALIAS cdl_warnings)
target_compile_options(cdl_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter)
if(CDL_WARNINGS_AS_ERRORS)
  target_compile_options(cdl_warnings INTERFACE -Werror)
endif()
