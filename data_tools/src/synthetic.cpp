// Synthetic CAPS generator. Each image has its own random stream derived from
// (seed, subject, session), so the output does not depend on the thread count.
#include "caps2h5/synthetic.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "caps2h5/nifti_io.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/tsv_table.hpp"

namespace cdl::data_tools {
namespace fs = std::filesystem;
namespace {

constexpr double kPi = 3.14159265358979323846;

/// Portable random numbers (std distributions differ between standard libraries).
class Random {
 public:
  explicit Random(uint64_t seed) : engine_(seed) {}
  double uniform() { return double(engine_() >> 11) * (1.0 / 9007199254740992.0); }
  double normal() {
    const double u1 = std::max(uniform(), 1e-300), u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
  }

 private:
  std::mt19937_64 engine_;
};

uint64_t mix(uint64_t x) {  // splitmix64 finalizer
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

/// One session of one subject and what drives its image.
struct Session {
  std::string participant, session, diagnosis, sex;
  double age = 0.0;
  double atrophy = 0.0;
  uint64_t seed = 0;
};

/// An axis-aligned ellipsoid in normalized coordinates (-0.5..0.5 on each axis).
struct Ellipsoid {
  double c[3];
  double r[3];
  bool contains(const double u[3]) const {
    double s = 0.0;
    for (int a = 0; a < 3; ++a) s += (u[a] - c[a]) * (u[a] - c[a]) / (r[a] * r[a]);
    return s <= 1.0;
  }
};

/// Left (index 0) and right hippocampus, at least one voxel wide on every axis.
std::array<Ellipsoid, 2> hippocampi(const std::array<int64_t, 3>& size) {
  std::array<Ellipsoid, 2> h{};
  for (int side = 0; side < 2; ++side) {
    const double base_r[3] = {0.07, 0.13, 0.07};
    h[size_t(side)].c[0] = side == 0 ? -0.2 : 0.2;
    h[size_t(side)].c[1] = -0.05;
    h[size_t(side)].c[2] = -0.12;
    for (int a = 0; a < 3; ++a) {
      h[size_t(side)].r[a] = std::max(base_r[a], 0.75 / double(size[size_t(a)]));
    }
  }
  return h;
}

void normalized(const std::array<int64_t, 3>& size, int64_t i, int64_t j, int64_t k, double u[3]) {
  u[0] = (double(i) + 0.5) / double(size[0]) - 0.5;
  u[1] = (double(j) + 0.5) / double(size[1]) - 0.5;
  u[2] = (double(k) + 0.5) / double(size[2]) - 0.5;
}

/// Intensity of one voxel without noise: 0 outside the brain, dark ventricles, hippocampi
/// darkened by atrophy.
float voxel_value(const double u[3], const Session& s, const std::array<Ellipsoid, 2>& hippo) {
  const Ellipsoid brain{{0, 0, 0}, {0.45, 0.47, 0.45}};
  if (!brain.contains(u)) return 0.0f;
  const double rv = 0.05 + 0.12 * s.atrophy;
  const Ellipsoid ventricles{{0, 0.02, 0.05}, {rv, 1.6 * rv, rv}};
  if (ventricles.contains(u)) return 0.1f;
  if (hippo[0].contains(u) || hippo[1].contains(u)) return float(0.85 * (1.0 - s.atrophy));
  return float(0.55 + 0.1 * std::cos(12.0 * u[0]) * std::cos(9.0 * u[1]) * std::cos(10.0 * u[2]));
}

Volume make_image(const Session& s, const std::array<int64_t, 3>& size) {
  Random rng(s.seed);
  const auto hippo = hippocampi(size);
  Volume v;
  v.shape = {1, size[0], size[1], size[2]};
  v.data.resize(size_t(v.voxel_count()));
  size_t n = 0;
  double u[3];
  for (int64_t i = 0; i < size[0]; ++i) {
    for (int64_t j = 0; j < size[1]; ++j) {
      for (int64_t k = 0; k < size[2]; ++k, ++n) {
        normalized(size, i, j, k, u);
        const float value = voxel_value(u, s, hippo);
        v.data[n] = value == 0.0f ? 0.0f : value + float(0.03 * rng.normal());
      }
    }
  }
  return v;
}

/// Subjects, diagnoses (half AD), ages and atrophy of every session.
std::vector<Session> make_sessions(const SyntheticOptions& o) {
  Random rng(mix(o.seed));
  std::vector<int> is_ad(size_t(o.subjects));
  for (int s = 0; s < o.subjects; ++s) is_ad[size_t(s)] = s % 2;
  for (int s = o.subjects - 1; s > 0; --s) {  // Fisher-Yates with the portable generator
    std::swap(is_ad[size_t(s)], is_ad[size_t(rng.uniform() * (s + 1))]);
  }
  const int width = std::max(3, int(std::to_string(o.subjects).size()));
  std::vector<Session> sessions;
  for (int s = 0; s < o.subjects; ++s) {
    char participant[64];
    std::snprintf(participant, sizeof participant, "sub-%0*d", std::min(width, 12), s + 1);
    const bool ad = is_ad[size_t(s)] != 0;
    const double base_age = (ad ? 66.0 : 62.0) + 16.0 * rng.uniform();
    const std::string sex = rng.uniform() < 0.5 ? "F" : "M";
    const double subject_effect = 0.03 * rng.normal();
    for (int k = 0; k < o.sessions; ++k) {
      char session[32];
      std::snprintf(session, sizeof session, "ses-M%03d", 6 * k);
      const double years = 0.5 * k;
      const double age = std::round((base_age + years) * 10.0) / 10.0;
      double atrophy =
          (ad ? 0.35 : 0.05) + 0.012 * (age - 70.0) + (ad ? 0.04 : 0.01) * years + subject_effect;
      atrophy = std::clamp(atrophy, 0.0, 0.9);
      sessions.push_back({participant, session, ad ? "AD" : "CN", sex, age, atrophy,
                          mix(o.seed ^ mix(uint64_t(s) * 1000003ull + uint64_t(k)))});
    }
  }
  return sessions;
}

std::string image_path(const fs::path& root, const Session& s) {
  const fs::path dir = root / "subjects" / s.participant / s.session / "t1_linear";
  fs::create_directories(dir);
  return (dir / (s.participant + "_" + s.session +
                 "_space-MNI152NLin2009cSym_desc-Crop_res-1x1x1_T1w.nii.gz"))
      .string();
}

void write_labels(const fs::path& root, const std::vector<Session>& sessions) {
  TsvTable labels({"participant_id", "session_id", "diagnosis", "age", "sex"});
  for (const auto& s : sessions) {
    char age[32];
    std::snprintf(age, sizeof age, "%.1f", s.age);
    labels.add_row({s.participant, s.session, s.diagnosis, age, s.sex});
  }
  labels.write((root / "labels.tsv").string());
}

/// Bounding boxes of the two hippocampi, as ClinicaDL's *HippocampusBox masks.
void write_masks(const fs::path& root, const std::array<int64_t, 3>& size) {
  const fs::path dir = root / "masks" / "tpl-MNI152NLin2009cSym";
  fs::create_directories(dir);
  const auto hippo = hippocampi(size);
  const char* names[2] = {"leftHippocampusBox", "rightHippocampusBox"};
  for (int side = 0; side < 2; ++side) {
    std::vector<uint8_t> mask(size_t(size[0] * size[1] * size[2]), 0);
    size_t n = 0;
    double u[3];
    for (int64_t i = 0; i < size[0]; ++i) {
      for (int64_t j = 0; j < size[1]; ++j) {
        for (int64_t k = 0; k < size[2]; ++k, ++n) {
          normalized(size, i, j, k, u);
          bool inside = true;
          for (int a = 0; a < 3; ++a) {
            inside =
                inside && std::fabs(u[a] - hippo[size_t(side)].c[a]) <= hippo[size_t(side)].r[a];
          }
          mask[n] = inside ? 1 : 0;
        }
      }
    }
    write_nifti_mask((dir / (std::string("tpl-MNI152NLin2009cSym_desc-Crop_res-1x1x1_roi-") +
                             names[side] + "_mask.nii.gz"))
                         .string(),
                     size, mask);
  }
}

void check_options(const SyntheticOptions& o) {
  std::vector<std::string> problems;
  if (o.subjects < 2)
    problems.push_back("--subjects " + std::to_string(o.subjects) + " must be >= 2");
  if (o.sessions < 1)
    problems.push_back("--sessions " + std::to_string(o.sessions) + " must be >= 1");
  for (int64_t d : o.size) {
    if (d < 4) problems.push_back("--size: every dimension must be >= 4, got " + std::to_string(d));
  }
  std::error_code ec;
  if (!o.overwrite && fs::exists(o.output_dir) && !fs::is_empty(o.output_dir, ec)) {
    problems.push_back("output '" + o.output_dir + "' exists and is not empty; hint: --overwrite");
  }
  if (problems.empty()) return;
  std::string message = "invalid arguments:";
  for (const auto& p : problems) message += "\n  - " + p;
  throw ConfigError(message);
}

}  // namespace

std::array<int64_t, 3> parse_size(const std::string& text) {
  std::array<int64_t, 3> size{0, 0, 0};
  char x1 = 0, x2 = 0, rest = 0;
  long long a = 0, b = 0, c = 0;
  if (std::sscanf(text.c_str(), "%lld%c%lld%c%lld%c", &a, &x1, &b, &x2, &c, &rest) != 5 ||
      x1 != 'x' || x2 != 'x' || a <= 0 || b <= 0 || c <= 0) {
    CDL_THROW(ConfigError, "--size '", text, "' is invalid; expected DxHxW such as 169x208x179");
  }
  size = {a, b, c};
  return size;
}

void make_synthetic_caps(const SyntheticOptions& o) {
  check_options(o);
  const fs::path root(o.output_dir);
  fs::create_directories(root);
  const std::vector<Session> sessions = make_sessions(o);
  std::vector<std::string> paths;  // folders made serially: threads only write files
  for (const auto& s : sessions) paths.push_back(image_path(root, s));
  std::atomic<size_t> next{0};
  std::string first_error;
  std::mutex error_mutex;
  auto work = [&] {
    for (size_t i = next++; i < sessions.size(); i = next++) {
      try {
        write_nifti_volume(paths[i], make_image(sessions[i], o.size));
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (first_error.empty()) first_error = e.what();
      }
    }
  };
  const int cores = int(std::max(1u, std::thread::hardware_concurrency()));
  const int threads = std::min<int>(o.threads > 0 ? o.threads : cores, int(sessions.size()));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) pool.emplace_back(work);
  for (auto& t : pool) t.join();
  if (!first_error.empty()) throw DataError(first_error);
  write_labels(root, sessions);
  write_masks(root, o.size);
}

}  // namespace cdl::data_tools
