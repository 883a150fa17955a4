// RAII ownership of HDF5 identifiers: each handle closes its id with the matching H5*close.
// The h5 room is the one home of HDF5 access, LibTorch-free, shared by the engine and caps2h5.
#pragma once

#include <hdf5.h>

#include <string>

#include <utility>

namespace cdl::h5 {

/// Owns one HDF5 identifier; `Close` is the matching close function (H5Fclose, H5Dclose, ...).
template <herr_t (*Close)(hid_t)>
class Handle {
 public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  Handle(Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  ~Handle() { reset(); }

  /// The raw identifier (still owned by this handle).
  hid_t get() const { return id_; }
  /// True when the handle holds a valid identifier.
  bool valid() const { return id_ >= 0; }
  /// Closes the identifier now (no-op when empty).
  void reset() {
    if (id_ >= 0) Close(id_);
    id_ = H5I_INVALID_HID;
  }

 private:
  hid_t id_ = H5I_INVALID_HID;
};

using File = Handle<H5Fclose>;
using Dataset = Handle<H5Dclose>;
using Dataspace = Handle<H5Sclose>;
using Datatype = Handle<H5Tclose>;
using Group = Handle<H5Gclose>;
using Attribute = Handle<H5Aclose>;
using PropertyList = Handle<H5Pclose>;

/// The innermost message of HDF5's current error stack (e.g. "data error detected by fletcher32
/// checksum"), or "" when the stack is empty. Call right after the failing HDF5 call.
inline std::string error_text() {
  std::string text;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned, const H5E_error2_t* error, void* out) -> herr_t {
        auto* message = static_cast<std::string*>(out);
        if (message->empty() && error->desc != nullptr) *message = error->desc;
        return 0;
      },
      &text);
  return text;
}

}  // namespace cdl::h5
