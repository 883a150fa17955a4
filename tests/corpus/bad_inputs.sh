#!/usr/bin/env bash
# The bad-input corpus: every case is generated here from the tiny test data set (no binary files
# in the repository), run without mpirun and under `mpirun -np 2`, each with a time limit. A case
# passes when the run fails with the expected exit status (the exact one at 1 process, non-zero
# under mpirun), prints the expected message fragment as the last words (not Open MPI's banner:
# `mpirun --quiet`, as the job scripts run it), leaves no process behind, no temporary file and no
# MAPS folder (or an untouched one where the case gives an existing folder).
# Usage: bad_inputs.sh CLINICADL_HPC CAPS2H5 TINY_DIR   (mpirun on PATH; Open MPI root/oversubscribe
# variables set by the caller)
set -uo pipefail
trainer="$1"; caps2h5="$2"; tiny="$3"
work="$tiny/bad_inputs"
rm -rf "$work" && mkdir -p "$work"
data="$tiny/data.h5"; splits="$tiny/splits"
failures=0; cases=0

# --- generated inputs ---------------------------------------------------------------------------
cp -r "$splits" "$work/dup" && sed -n 2p "$splits/train.tsv" >> "$work/dup/train.tsv"
cp -r "$splits" "$work/leak" && sed -n 2p "$splits/train.tsv" >> "$work/leak/validation_baseline.tsv"
mkdir -p "$work/one_class"
for f in train.tsv validation_baseline.tsv; do awk -F'\t' 'NR == 1 || $3 == "AD"' "$splits/$f" > "$work/one_class/$f"; done
awk -F'\t' 'NR == 1 || $3 == "CN"' "$splits/validation_baseline.tsv" | tail -n +2 >> "$work/one_class/validation_baseline.tsv"
head -c 200000 "$data" > "$work/truncated.h5"
"$caps2h5" convert "$tiny/caps" "$work/flipped.h5" > /dev/null
python3 - "$work/flipped.h5" <<'PY' || cp "$data" "$work/flipped.h5"
import sys
path = sys.argv[1]
data = bytearray(open(path, "rb").read())
data[int(len(data) * 0.6)] ^= 0x10   # one byte inside the image chunks
open(path, "wb").write(data)
PY
cp -r "$splits" "$work/bad_id"  # a participant id that would be a path: ../../x
awk -F'\t' 'BEGIN { OFS = "\t" } NR == 2 { $1 = "../../x" } { print }' "$splits/train.tsv" > "$work/bad_id/train.tsv"
printf '[Computational]\nbatch_size = 4\nepochs = = 2\n' > "$work/bad.toml"
mkdir -p "$work/user_folder" && echo "keep me" > "$work/user_folder/notes.txt"

# --- the corpus: NAME | EXIT STATUS (1 process) | MESSAGE REGEX | MAPS | ARGUMENTS AFTER `train`
# MAPS: none = refused before anything is written; kept = the problem shows only while training
# (a diverging loss, a damaged image), and the MAPS of the epochs run so far stays for inspection.
cases_table() {
  cat <<EOF2
caps_folder_as_data|1|is a folder, expected an HDF5 file|none|classification $tiny/caps $splits MAPS
missing_data|1|does not exist|none|classification $work/nothing.h5 $splits MAPS
truncated_h5|1|truncated file|none|classification $work/truncated.h5 $splits MAPS
duplicate_session|2|appears twice|none|classification $data $work/dup MAPS
path_as_participant_id|1|participant_id '../../x' is not a BIDS label|none|classification $data $work/bad_id MAPS
participant_leak|2|data leak|none|classification $data $work/leak MAPS
single_class|2|one class only|none|classification $data $work/one_class MAPS
repeated_metric|2|names 'loss' twice|none|classification $data $splits MAPS --selection_metrics loss loss
guessed_prefix|2|unknown option '--epoch'|none|classification $data $splits MAPS --epoch 2
huge_batch|2|needs at least 5.1 TiB per rank|none|classification $data $splits MAPS --batch_size 1000000
unknown_augmentation|2|'Flip' is unknown; expected some of Noise|none|classification $data $splits MAPS --data_augmentation Noise Flip
augmentation_3d_on_slices|2|Motion is one of TorchIO's 3D transforms|none|classification $data $splits MAPS --mode slice --data_augmentation Motion
size_reduction_on_patches|2|--size_reduction applies to whole images|none|classification $data $splits MAPS --mode patch --size_reduction
bad_toml|2|line 3, column|none|classification $data $splits MAPS --config_file $work/bad.toml
overwrite_user_folder|2|has no maps.json|none|classification $data $splits $work/user_folder --overwrite
diverging_loss|3|the training diverged|kept|classification $data $splits MAPS --learning_rate 1e30 --epochs 3
flipped_byte|1|Fletcher32 checksum|kept|classification $work/flipped.h5 $splits MAPS --epochs 1
EOF2
}

survivors() { pgrep -f -- "$work/maps_" || true; }

run_case() {  # NAME STATUS REGEX MAPS RANKS ARGS...
  local name=$1 want=$2 regex=$3 keep=$4 ranks=$5; shift 5
  local maps="$work/maps_${name}_np$ranks" args=() output status problem=""
  for a in "$@"; do args+=("${a/#MAPS/$maps}"); done
  [[ " $* " == *" --batch_size "* ]] || args+=(--batch_size 4)
  local launcher=()
  [ "$ranks" -gt 1 ] && launcher=(mpirun --quiet -np "$ranks")  # as the job scripts run it
  output=$(timeout -k 5 120 "${launcher[@]}" "$trainer" train "${args[@]}" 2>&1 < /dev/null)
  status=$?
  cases=$((cases + 1))
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then problem="hung (killed after 120 s)"
  elif [ "$status" -eq 0 ]; then problem="succeeded"
  elif [ "$ranks" -eq 1 ] && [ "$status" -ne "$want" ]; then problem="exit status $status, expected $want"
  elif ! grep -Eq -- "$regex" <<< "$output"; then problem="no message matching /$regex/"
  elif [ -n "$(survivors)" ]; then problem="processes survived: $(survivors | tr '\n' ' ')"
  elif grep -v '^\s*$' <<< "$output" | tail -n 1 | grep -Eq 'MPI_ABORT|mpirun|Open MPI|PMIX|^-+$'; then
    problem="the output ends with the launcher's noise, not the error"
  elif [ "$keep" = none ] && [ -e "$maps" ]; then problem="a MAPS folder was left at $maps"
  elif find "$work" -name '*.tmp*' | grep -q .; then problem="temporary files left: $(find "$work" -name '*.tmp*')"
  fi
  if [ -n "$problem" ]; then
    failures=$((failures + 1))
    echo "FAIL  $name (np $ranks): $problem"
    echo "$output" | tail -n 5 | sed 's/^/      | /'
  else
    echo "ok    $name (np $ranks): status $status"
  fi
}

while IFS='|' read -r name want regex keep args; do
  [ -z "$name" ] && continue
  read -r -a argv <<< "$args"
  for ranks in 1 2; do run_case "$name" "$want" "$regex" "$keep" "$ranks" "${argv[@]}"; done
done < <(cases_table)
[ "$(cat "$work/user_folder/notes.txt")" = "keep me" ] || { echo "FAIL  the user's folder was changed"; failures=$((failures + 1)); }
echo "$((cases - failures)) passed, $failures failed"
[ "$failures" -eq 0 ]
