# Puts the system C++ runtime first in every executable's list of needed libraries.
#
# Why: PyPI's LibTorch (the `torch` wheel) is built with a newer GCC whose libstdc++ pieces that
# the system runtime may lack are linked statically into libtorch_cpu.so and libc10.so, and the
# wheel exports about 340 of those symbols (std::filesystem::remove_all, filesystem_error::what,
# basic_stringbuf::str() &&, std::string::reserve(), std::__throw_bad_array_new_length, ...). The
# dynamic linker binds every symbol to the first library in load order that defines it, and the
# compiler driver appends -lstdc++ after the user's libraries, so libtorch's private copies win
# and our own calls land there. Its std::filesystem::remove_all calls through an unresolved weak
# reference and jumps to address 0 (SIGSEGV at the end of every training, and in any test that
# removes a folder). Naming libstdc++ before the objects (and keeping it against --as-needed,
# the default on Ubuntu) makes it the first definer, so every binary uses one consistent runtime.
# The test CxxRuntimeOrigin (tests/unit/core) checks where those symbols resolve at run time.
add_link_options(
  "$<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:LINKER:--push-state,--no-as-needed,-lstdc++,--pop-state>")
