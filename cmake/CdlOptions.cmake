# Every build option of clinicadl-hpc, with its implications checked in one place.
option(WITH_CUDA "Build the CUDA code paths (needs a CUDA toolkit)" OFF)
option(WITH_NCCL "Build the NCCL gradient back end (implies a CUDA toolkit)" OFF)
option(BUILD_TESTING "Build the GoogleTest suites" ON)
option(CDL_BUILD_DATA_TOOLS "Build caps2h5 (CAPS -> HDF5 converter)" ON)
option(CDL_BUILD_BENCH "Build the benchmarks in bench/" ON)
option(CDL_WARNINGS_AS_ERRORS "Turn compiler warnings into errors" OFF)
option(CDL_USE_PCH "Precompile the LibTorch headers (large compile-time win)" ON)
option(CDL_ALLOW_CPU_TORCH_WITH_CUDA
       "Accept a CPU-only LibTorch with WITH_CUDA=ON (compile check of the CUDA/NCCL code only)" OFF)

if(WITH_NCCL AND NOT WITH_CUDA)
  message(FATAL_ERROR
    "WITH_NCCL=ON needs the CUDA toolkit, but WITH_CUDA is OFF.\n"
    "Fix: configure with -DWITH_CUDA=ON -DWITH_NCCL=ON (and point CMake at a CUDA build of LibTorch "
    "with -DCMAKE_PREFIX_PATH=/path/to/libtorch).")
endif()

# Sanitizers for a checking build (CI runs the suite under address,undefined): e.g.
# -DCDL_SANITIZE=address,undefined. vptr is left out: LibTorch's classes come from an
# uninstrumented library and make that check report false positives.
set(CDL_SANITIZE "" CACHE STRING "Comma-separated -fsanitize= list for every target (empty: none)")
if(CDL_SANITIZE)
  add_compile_options(-fsanitize=${CDL_SANITIZE} -fno-sanitize=vptr -fno-omit-frame-pointer
                      -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${CDL_SANITIZE} -fno-sanitize=vptr)
endif()
