# The memory allocator of clinicadl-hpc. glibc's malloc returns large blocks (3D activations of
# tens of MB) to the system after every use and faults them in again on the next step: about as
# much time in the kernel as in the convolutions of an image-mode epoch. jemalloc, configured in
# src/app/allocator.cpp to keep its freed pages, removes that cost. Used when found (Debian:
# libjemalloc-dev); -DCDL_WITH_JEMALLOC=OFF keeps the system allocator. Never with sanitizers,
# which bring their own allocator.
set(CDL_WITH_JEMALLOC AUTO CACHE STRING "Link jemalloc into clinicadl-hpc: AUTO, ON or OFF")
set(CDL_WITH_JEMALLOC01 0)
if(CDL_SANITIZE)
  if(CDL_WITH_JEMALLOC STREQUAL "ON")
    message(FATAL_ERROR "CDL_WITH_JEMALLOC=ON cannot be combined with CDL_SANITIZE")
  endif()
elseif(NOT CDL_WITH_JEMALLOC STREQUAL "OFF")
  find_library(CDL_JEMALLOC_LIBRARY NAMES jemalloc)
  if(CDL_JEMALLOC_LIBRARY)
    set(CDL_WITH_JEMALLOC01 1)
  elseif(CDL_WITH_JEMALLOC STREQUAL "ON")
    message(FATAL_ERROR "CDL_WITH_JEMALLOC=ON but no jemalloc library was found "
                        "(Debian: apt-get install libjemalloc-dev; or set CDL_JEMALLOC_LIBRARY)")
  endif()
endif()

# Links jemalloc into `target` (an executable) so that it replaces malloc for the whole process.
function(cdl_use_jemalloc target)
  if(CDL_WITH_JEMALLOC01)
    target_link_libraries(${target} PRIVATE -Wl,--no-as-needed ${CDL_JEMALLOC_LIBRARY}
                                            -Wl,--as-needed)
  endif()
endfunction()
