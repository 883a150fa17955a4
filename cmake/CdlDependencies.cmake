# All find_package() calls of clinicadl-hpc, wrapped into cdl::* INTERFACE targets.
# Nothing here names a distribution path: point CMake at your own LibTorch / MPI / HDF5 with
# CMAKE_PREFIX_PATH (or Torch_DIR, MPI_HOME, HDF5_ROOT, NCCL_ROOT).

find_package(Threads REQUIRED)

# --- LibTorch -----------------------------------------------------------------------------------
# TorchConfig looks for its own libraries (c10, ...) after the system folders, so with a second
# LibTorch installed system-wide (Debian's libtorch-dev beside PyPI's wheel) it would mix the two.
# Search the chosen LibTorch's lib/ first.
find_path(CDL_TORCH_CONFIG_DIR TorchConfig.cmake
          HINTS ${Torch_DIR} ${CMAKE_PREFIX_PATH} $ENV{Torch_DIR} $ENV{CMAKE_PREFIX_PATH}
          PATH_SUFFIXES . Torch share/cmake/Torch lib/cmake/Torch NO_DEFAULT_PATH)
if(CDL_TORCH_CONFIG_DIR)
  get_filename_component(CDL_TORCH_PREFIX "${CDL_TORCH_CONFIG_DIR}/../../.." ABSOLUTE)
  list(PREPEND CMAKE_LIBRARY_PATH "${CDL_TORCH_PREFIX}/lib")
endif()
find_package(Torch REQUIRED)
add_library(cdl_torch INTERFACE)
add_library(cdl::torch ALIAS cdl_torch)
separate_arguments(CDL_TORCH_CXX_FLAGS UNIX_COMMAND "${TORCH_CXX_FLAGS}")
target_compile_options(cdl_torch INTERFACE ${CDL_TORCH_CXX_FLAGS})
target_include_directories(cdl_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
target_link_libraries(cdl_torch INTERFACE ${TORCH_LIBRARIES} Threads::Threads)

# --- MPI ----------------------------------------------------------------------------------------
find_package(MPI REQUIRED COMPONENTS CXX)
set(MPIEXEC_PREFLAGS "${MPIEXEC_PREFLAGS}" CACHE STRING
    "Flags placed before the executable by mpiexec in tests (e.g. --oversubscribe)")

# --- HDF5 (C API, serial is enough: every rank opens read-only, one writer) ---------------------
find_package(HDF5 REQUIRED COMPONENTS C)
add_library(cdl_hdf5 INTERFACE)
add_library(cdl::hdf5 ALIAS cdl_hdf5)
target_include_directories(cdl_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_link_libraries(cdl_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
if(HDF5_DEFINITIONS)
  target_compile_definitions(cdl_hdf5 INTERFACE ${HDF5_DEFINITIONS})
endif()

# --- Command line and config files --------------------------------------------------------------
find_package(Boost REQUIRED COMPONENTS program_options)
find_package(tomlplusplus REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(ZLIB REQUIRED)  # CRC-32 of checkpoint records (formats/), inflate (caps2h5)

# --- NIfTI and fast inflate (only the converter needs them) -------------------------------------
if(CDL_BUILD_DATA_TOOLS)
  find_path(NIFTI_INCLUDE_DIR nifti2_io.h PATH_SUFFIXES nifti)
  find_library(NIFTI2_LIBRARY NAMES niftiio2 nifti2)
  find_library(ZNZ_LIBRARY NAMES znz)
  find_path(LIBDEFLATE_INCLUDE_DIR libdeflate.h)
  find_library(LIBDEFLATE_LIBRARY NAMES deflate)
  if(NOT NIFTI_INCLUDE_DIR OR NOT NIFTI2_LIBRARY OR NOT ZNZ_LIBRARY)
    message(FATAL_ERROR "nifticlib (nifti2_io.h, libniftiio2, libznz) not found. "
                        "Install it (Debian: libnifti2-dev) or set CMAKE_PREFIX_PATH.")
  endif()
  if(NOT LIBDEFLATE_INCLUDE_DIR OR NOT LIBDEFLATE_LIBRARY)
    message(FATAL_ERROR "libdeflate not found. Install it (Debian: libdeflate-dev) or set "
                        "CMAKE_PREFIX_PATH.")
  endif()
  add_library(cdl_nifti INTERFACE)
  add_library(cdl::nifti ALIAS cdl_nifti)
  target_include_directories(cdl_nifti SYSTEM INTERFACE ${NIFTI_INCLUDE_DIR} ${LIBDEFLATE_INCLUDE_DIR})
  target_link_libraries(cdl_nifti INTERFACE ${NIFTI2_LIBRARY} ${ZNZ_LIBRARY} ${LIBDEFLATE_LIBRARY}
                                            ZLIB::ZLIB m)
endif()

# --- CUDA and NCCL (optional) -------------------------------------------------------------------
set(CDL_WITH_CUDA01 0)
set(CDL_WITH_NCCL01 0)
set(CDL_WITH_CUDA_TORCH01 0)
if(WITH_CUDA)
  find_package(CUDAToolkit REQUIRED)
  set(CDL_WITH_CUDA01 1)
  if(TORCH_CUDA_LIBRARIES OR CAFFE2_USE_CUDA)
    set(CDL_WITH_CUDA_TORCH01 1)
  else()
    if(CDL_ALLOW_CPU_TORCH_WITH_CUDA)
      message(WARNING "LibTorch is a CPU-only build: the CUDA/NCCL code is compiled for checking, "
                      "but tensors stay on the CPU at run time, so NCCL is never selected.")
    else()
      message(FATAL_ERROR
        "WITH_CUDA=ON but the LibTorch found (${Torch_DIR}) is a CPU-only build.\n"
        "Fix: point CMake at a CUDA LibTorch (-DCMAKE_PREFIX_PATH=/path/to/libtorch), or add "
        "-DCDL_ALLOW_CPU_TORCH_WITH_CUDA=ON to only compile-check the CUDA/NCCL code.")
    endif()
  endif()
endif()
if(WITH_NCCL)
  # One NCCL per process: a LibTorch wheel ships the NCCL it was built against (nvidia/nccl beside
  # torch/), which may be newer than the toolkit's; prefer it unless NCCL_ROOT says otherwise.
  if(NOT NCCL_ROOT AND NOT NCCL_LIBRARY AND CDL_TORCH_PREFIX AND EXISTS "${CDL_TORCH_PREFIX}/../nvidia/nccl/include/nccl.h")
    get_filename_component(NCCL_ROOT "${CDL_TORCH_PREFIX}/../nvidia/nccl" ABSOLUTE)
  endif()
  find_package(NCCL REQUIRED)
  set(CDL_WITH_NCCL01 1)
  # Every binary that links LibTorch links this NCCL too, so the linker and the loader resolve
  # LibTorch's own NCCL symbols against the same library as ours.
  target_link_libraries(cdl_torch INTERFACE NCCL::NCCL)
endif()

# --- Version stamp ------------------------------------------------------------------------------
find_package(Git QUIET)
set(CDL_GIT_SHA "unknown")
if(GIT_FOUND AND EXISTS ${CMAKE_SOURCE_DIR}/.git)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --short HEAD
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR} OUTPUT_VARIABLE CDL_GIT_SHA
                  OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  if(NOT CDL_GIT_SHA)
    set(CDL_GIT_SHA "unknown")
  endif()
endif()
