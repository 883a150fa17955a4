// Empty translation unit that owns the shared precompiled LibTorch header (see CdlPch.cmake).
