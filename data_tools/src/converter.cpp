// Conversion: plan (all checks before any write), then decode in parallel and write in order.
#include "caps2h5/converter.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <thread>

#include "caps2h5/h5_image_writer.hpp"
#include "caps2h5/nifti_io.hpp"
#include "caps2h5/progress.hpp"
#include "caps2h5/pt_reader.hpp"
#include "cdl/core/error.hpp"
#include "cdl/core/logging.hpp"
#include "cdl/core/problems.hpp"
#include "cdl/h5/container_format.hpp"

#ifndef CAPS2H5_VERSION
#define CAPS2H5_VERSION "0.0.0"
#endif

namespace cdl::data_tools {
namespace fs = std::filesystem;
namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

/// Every option problem at once, as one ConfigError.
void check_options(const ConvertOptions& o) {
  std::vector<std::string> problems;
  try {
    o.preprocessing.validate();
  } catch (const ConfigError& e) {
    problems.emplace_back(e.what());
  }
  if (o.compression < 0 || o.compression > 9) {
    problems.push_back("--compression " + std::to_string(o.compression) + " is out of range 0-9");
  }
  if (o.threads < 0) problems.push_back("--threads must be >= 0 (0 = automatic)");
  if (!fs::exists(o.input)) problems.push_back("input '" + o.input + "' does not exist");
  if (!o.sessions_tsv.empty() && !fs::exists(o.sessions_tsv)) {
    problems.push_back("--tsv '" + o.sessions_tsv + "' does not exist");
  }
  if (!ends_with(o.output, ".h5")) problems.push_back("output '" + o.output + "' must end in .h5");
  if (problems.empty()) return;
  std::string message = "invalid arguments:";
  for (const auto& p : problems) message += "\n  - " + p;
  throw ConfigError(message);
}

/// (cohort, CAPS, output) triples: one for a CAPS folder, one per row of a cohorts TSV.
std::vector<CohortJob> cohort_jobs(const ConvertOptions& o) {
  if (fs::is_directory(o.input)) return {{"single", o.input, o.output, {}}};
  const TsvTable table = TsvTable::read(o.input);
  const int cc = table.column_index("cohort");
  const int pc = table.column_index("path");
  const std::string base = o.output.substr(0, o.output.size() - 3);
  std::vector<CohortJob> jobs;
  for (const auto& row : table.rows()) {
    jobs.push_back({row[size_t(cc)], row[size_t(pc)], base + "_" + row[size_t(cc)] + ".h5", {}});
  }
  if (jobs.empty()) CDL_THROW(ConfigError, "cohorts TSV '", o.input, "' has no rows");
  return jobs;
}

/// Refuses existing outputs unless --overwrite.
void check_outputs(const std::vector<CohortJob>& jobs, const ConvertOptions& o) {
  if (o.overwrite) return;
  std::vector<std::string> outputs;
  for (const auto& job : jobs) outputs.push_back(job.output);
  if (jobs.size() > 1 || jobs[0].cohort != "single") {
    outputs.push_back(o.output.substr(0, o.output.size() - 3) + ".tsv");
  }
  for (const auto& out : outputs) {
    if (fs::exists(out)) {
      CDL_THROW(ConfigError, "output '", out,
                "' already exists; hint: pass --overwrite to replace it");
    }
  }
}

/// Reads one image file (NIfTI or .pt) and encodes its chunk.
EncodedImage decode_one(const ImageEntry& entry, const ImagesLayout& layout) {
  Volume volume =
      ends_with(entry.path, ".pt") ? read_pt_tensor(entry.path) : read_nifti(entry.path);
  EncodedImage image;
  image.shape = volume.shape;
  if (layout.float16 || layout.compression > 0) {
    image.chunk = encode_chunk(volume, layout);
    return image;
  }
  image.floats = std::move(volume.data);  // stored as is: no copy of the voxels
  if (layout.checksum) {  // the fletcher32 filter's trailing checksum, as one more 4-byte word
    const uint32_t sum = fletcher32(reinterpret_cast<const uint8_t*>(image.floats.data()),
                                    image.floats.size() * sizeof(float));
    const uint8_t little_endian[4] = {uint8_t(sum), uint8_t(sum >> 8), uint8_t(sum >> 16),
                                      uint8_t(sum >> 24)};
    float word;
    std::memcpy(&word, little_endian, 4);
    image.floats.push_back(word);
  }
  return image;
}

int default_threads(int ranks) {
  const char* local = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
  const int per_node = local ? std::max(1, std::atoi(local)) : ranks;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return std::max(1, cores / std::max(1, per_node));
}

/// Images decoded by this rank: rank, rank + size, ...
std::vector<int64_t> share_of(const ImageTransport& transport, int64_t n) {
  std::vector<int64_t> mine;
  for (int64_t i = transport.rank(); i < n; i += transport.size()) mine.push_back(i);
  return mine;
}

/// Throws DataError naming both files when image i's shape differs from the first image's.
void check_shape(const CohortJob& job, int64_t i, const Shape4& first, const Shape4& shape) {
  if (shape == first) return;
  CDL_THROW(DataError, "image shapes differ: '", job.images[0].path, "' is ",
            shape_to_string(first), " but '", job.images[size_t(i)].path, "' is ",
            shape_to_string(shape), "; all images of one file must have the same shape");
}

/// Non-writing rank: decode my share and send it to rank 0, stopping at the first error.
void send_share(const CohortJob& job, const ImagesLayout& layout, int threads,
                ImageTransport& transport) {
  const std::vector<int64_t> mine = share_of(transport, int64_t(job.images.size()));
  OrderedPipeline pipeline(
      mine, [&](int64_t i) { return decode_one(job.images[size_t(i)], layout); }, threads,
      threads + 2);
  for (size_t n = 0; n < mine.size(); ++n) {
    const EncodedImage image = pipeline.next();
    transport.send(image);
    if (!image.error.empty()) return;
  }
}

/// ROI masks of the CAPS as uint8 0/1, each checked against the image shape.
void write_masks(const CohortJob& job, const PreprocessingOptions& p, const Shape4& shape,
                 H5ImageWriter& writer) {
  for (const auto& [roi, path] : find_masks(job.caps_dir, p)) {
    const Volume mask = read_nifti(path);
    if (mask.shape[0] != 1 || mask.shape[1] != shape[1] || mask.shape[2] != shape[2] ||
        mask.shape[3] != shape[3]) {
      CDL_THROW(DataError, "mask '", path, "' has shape ", shape_to_string(mask.shape),
                " but the images have ", shape_to_string(shape), " (first image '",
                job.images[0].path, "')");
    }
    std::vector<uint8_t> values(mask.data.size());
    for (size_t v = 0; v < values.size(); ++v) values[v] = mask.data[v] != 0.0f ? 1 : 0;
    writer.write_mask(roi, {shape[1], shape[2], shape[3]}, values);
  }
}

/// /participant_id and /session_id in image order.
void write_ids(const CohortJob& job, H5ImageWriter& writer) {
  std::vector<std::string> participants, sessions;
  for (const auto& e : job.images) {
    participants.push_back(e.participant_id);
    sessions.push_back(e.session_id);
  }
  writer.write_strings(h5::format::kParticipantId, participants);
  writer.write_strings(h5::format::kSessionId, sessions);
}

/// Rank 0: receives every image in order, checks shapes and writes the file.
void write_cohort(const CohortJob& job, const ConvertOptions& o, const ImagesLayout& base,
                  int threads, ImageTransport& transport, const std::string& tmp,
                  ConvertSummary& summary) {
  const int64_t n = int64_t(job.images.size());
  OrderedPipeline pipeline(
      share_of(transport, n), [&](int64_t i) { return decode_one(job.images[size_t(i)], base); },
      threads, threads + 2);
  H5ImageWriter writer(tmp);
  writer.write_attributes({o.preprocessing.preprocessing_dict().dump(), job.cohort,
                           std::string("caps2h5 ") + CAPS2H5_VERSION,
                           fs::absolute(job.caps_dir).lexically_normal().string()});
  Progress progress(n, o.progress);
  ImagesLayout layout = base;
  for (int64_t i = 0; i < n; ++i) {
    const int owner = int(i % transport.size());
    EncodedImage image = owner == 0 ? pipeline.next() : transport.receive(owner);
    if (!image.error.empty()) throw DataError(image.error);
    if (i == 0) {
      layout.shape = image.shape;
      layout.count = n;
      writer.create_images(layout);
    }
    check_shape(job, i, layout.shape, image.shape);
    writer.write_chunk(i, image.data(), image.size());
    summary.bytes +=
        4.0 * double(image.shape[0] * image.shape[1] * image.shape[2] * image.shape[3]);
    progress.update(i + 1, summary.bytes);
  }
  write_ids(job, writer);
  if (n > 0) write_masks(job, o.preprocessing, layout.shape, writer);
  writer.close();
  progress.finish();
  summary.images += n;
}

/// Converts one cohort; rank 0 writes `<output>.tmp` and renames it, removing it on failure.
void convert_cohort(const CohortJob& job, const ConvertOptions& o, ImageTransport& transport,
                    ConvertSummary& summary) {
  ImagesLayout layout;
  layout.float16 = o.float16;
  layout.compression = o.compression;
  const int threads = o.threads > 0 ? o.threads : default_threads(transport.size());
  if (transport.rank() != 0) {
    send_share(job, layout, threads, transport);
    return;
  }
  const std::string tmp = job.output + ".tmp";
  try {
    write_cohort(job, o, layout, threads, transport, tmp, summary);
    fs::rename(tmp, job.output);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  summary.outputs.push_back(job.output);
}

/// Multi-cohort: OUT.tsv listing (cohort, path) of the files written.
void write_cohorts_tsv(const std::vector<CohortJob>& jobs, const ConvertOptions& o) {
  TsvTable table({"cohort", "path"});
  for (const auto& job : jobs) table.add_row({job.cohort, job.output});
  const std::string out = o.output.substr(0, o.output.size() - 3) + ".tsv";
  table.write(out + ".tmp");
  fs::rename(out + ".tmp", out);
}

}  // namespace

std::vector<CohortJob> plan_conversion(const ConvertOptions& options) {
  check_options(options);
  std::vector<CohortJob> jobs = cohort_jobs(options);
  check_outputs(jobs, options);
  TsvTable sessions;
  if (!options.sessions_tsv.empty()) sessions = TsvTable::read(options.sessions_tsv);
  if (!options.sessions_tsv.empty() && jobs[0].cohort != "single" &&
      (sessions.has_column("cohort") ? sessions.column_index("cohort") : -1) < 0) {
    CDL_THROW(ConfigError, "--tsv '", options.sessions_tsv, "' needs a 'cohort' column when the ",
              "input is a cohorts TSV");
  }
  std::vector<std::string> problems;
  for (auto& job : jobs) {
    ScanRequest request{job.caps_dir, job.cohort, options.preprocessing, options.from_tensors,
                        options.sessions_tsv.empty() ? nullptr : &sessions};
    ScanResult result = scan_caps(request);
    job.images = std::move(result.images);
    problems.insert(problems.end(), result.problems.begin(), result.problems.end());
    if (result.problems.empty() && job.images.empty()) {
      problems.push_back("[" + job.cohort + "] no image to convert in '" + job.caps_dir + "'");
    }
  }
  throw_if_problems<DataError>(problems, "", " found, nothing written");
  return jobs;
}

ConvertSummary convert(const ConvertOptions& options, ImageTransport& transport) {
  std::vector<CohortJob> jobs;
  std::exception_ptr failure;
  int code = 0;
  try {
    jobs = plan_conversion(options);
  } catch (const Error& e) {
    failure = std::current_exception();
    code = e.exit_code();
  }
  code = transport.max_over_ranks(code);  // every rank stops if any rank cannot plan
  if (failure) std::rethrow_exception(failure);
  if (code != 0) CDL_THROW(DataError, "another rank could not plan the conversion (see its error)");
  return convert(options, jobs, transport);
}

ConvertSummary convert(const ConvertOptions& options, const std::vector<CohortJob>& jobs,
                       ImageTransport& transport) {
  const auto start = std::chrono::steady_clock::now();
  ConvertSummary summary;
  for (const auto& job : jobs) convert_cohort(job, options, transport, summary);
  if (transport.rank() == 0 && (jobs.size() > 1 || jobs[0].cohort != "single")) {
    write_cohorts_tsv(jobs, options);
  }
  transport.broadcast_status(0);
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  char line[200];
  std::snprintf(line, sizeof line, "%lld images, %.3f GB, %.2f s, %.1f MB/s",
                (long long)summary.images, summary.bytes / 1e9, summary.seconds,
                summary.bytes / 1e6 / std::max(1e-9, summary.seconds));
  summary.line = line;
  return summary;
}

}  // namespace cdl::data_tools
