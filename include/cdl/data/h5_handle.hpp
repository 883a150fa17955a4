// RAII ownership of HDF5 identifiers: each handle closes its id with the matching H5*close.
#pragma once

#include <hdf5.h>

#include <string>

#include <utility>

namespace cdl::data {

/// Owns one HDF5 identifier; `Close` is the matching close function (H5Fclose, H5Dclose, ...).
template <herr_t (*Close)(hid_t)>
class H5Handle {
 public:
  H5Handle() = default;
  explicit H5Handle(hid_t id) : id_(id) {}
  H5Handle(const H5Handle&) = delete;
  H5Handle& operator=(const H5Handle&) = delete;
  H5Handle(H5Handle&& other) noexcept : id_(std::exchange(other.id_, H5I_INVALID_HID)) {}
  H5Handle& operator=(H5Handle&& other) noexcept {
    if (this != &other) {
      reset();
      id_ = std::exchange(other.id_, H5I_INVALID_HID);
    }
    return *this;
  }
  ~H5Handle() { reset(); }

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

using H5File = H5Handle<H5Fclose>;
using H5Dataset = H5Handle<H5Dclose>;
using H5Dataspace = H5Handle<H5Sclose>;
using H5Datatype = H5Handle<H5Tclose>;
using H5Group = H5Handle<H5Gclose>;
using H5Attribute = H5Handle<H5Aclose>;
using H5PropertyList = H5Handle<H5Pclose>;

/// The innermost message of HDF5's current error stack (e.g. "data error detected by fletcher32
/// checksum"), or "" when the stack is empty. Call right after the failing HDF5 call.
inline std::string hdf5_error_text() {
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

}  // namespace cdl::data
