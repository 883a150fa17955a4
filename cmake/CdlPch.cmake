# One precompiled LibTorch header shared by every target that includes torch (REUSE_FROM).
# A LibTorch translation unit takes ~35 s without it and a few seconds with it.
add_library(cdl_pch OBJECT ${CDL_SOURCE_DIR}/cmake/pch_anchor.cpp)
target_link_libraries(cdl_pch PRIVATE cdl::torch MPI::MPI_CXX)
if(CDL_USE_PCH)
  target_precompile_headers(cdl_pch PRIVATE <torch/torch.h>)
endif()

# Makes TARGET reuse the shared LibTorch precompiled header (no-op when CDL_USE_PCH is OFF).
function(cdl_use_torch_pch target)
  if(CDL_USE_PCH)
    target_precompile_headers(${target} REUSE_FROM cdl_pch)
    # The PCH was built with MPI's and LibTorch's flags: give the user the same ones.
    target_link_libraries(${target} PRIVATE cdl::torch MPI::MPI_CXX)
  endif()
endfunction()
