# bench_lib.sh: what the training benchmarks share (sourced, not run): the binaries of a build
# and a synthetic data set converted and split, in a folder removed at exit.

# bench_binaries BUILD_DIR: sets $bin and $caps2h5, or stops when they are not built; lets Open MPI
# run as root and oversubscribe (benchmarks compare rank counts on small machines).
bench_binaries() {
  bin="$1/src/clinicadl-hpc"
  caps2h5="$1/data_tools/caps2h5"
  for exe in "$bin" "$caps2h5"; do
    [[ -x "$exe" ]] || { echo "$exe not found (build clinicadl-hpc and caps2h5 first)" >&2; exit 2; }
  done
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  export OMPI_MCA_rmaps_base_oversubscribe=1
}

# bench_synthetic_set NAME SUBJECTS SIZE: sets $work (a new folder, removed at exit) holding
# data.h5 (SUBJECTS synthetic subjects of 1@SIZE) and splits/ (25 % validation).
bench_synthetic_set() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  "$caps2h5" synthetic "$work/caps" --subjects "$2" --size "$3" --seed 1 > /dev/null
  "$caps2h5" convert "$work/caps" "$work/data.h5" --no-progress > /dev/null
  "$caps2h5" split "$work/caps/labels.tsv" --n_test 0.25 --seed 0 --output_dir "$work/splits" > /dev/null
  rm -rf "$work/caps"
}

# bench_half_patch SIZE (DxHxW): the patch edge that cuts the image in 2 x 2 x 2 = 8 patches
# (half its smallest side).
bench_half_patch() {
  local d h w
  IFS=x read -r d h w <<< "$1"
  echo $(( (d < h ? (d < w ? d : w) : (h < w ? h : w)) / 2 ))
}
