#!/usr/bin/env bash
# random-search as one job on the tiny set: 5 runs of 2 folds on 2 rank groups, some with a
# learning rate so large that they diverge (recorded as failed, the others go on); the same
# search on 1 rank gives the same runs and results; a run trained data parallel by a group of 2
# ranks that diverges ends cleanly; each run is a MAPS that `predict` reads; the search folder is
# never replaced silently, and --overwrite replaces only a search folder; a stopped search
# continues with --resume to the results of an uninterrupted one.
# Usage: random_search.sh CLINICADL_HPC MPIEXEC DATA.h5 KFOLD_DIR WORK_DIR [MPI_PREFLAGS...]
set -uo pipefail
bin="$1"; mpiexec="$2"; data="$3"; kfold="$4"; work="$5"; shift 5
preflags=("$@")
rm -rf "$work" && mkdir -p "$work/launch" || exit 1
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
cat > "$work/launch/random_search.toml" <<TOML
[Random_Search]
network_task = "classification"
caps_directory = "$data"
tsv_path = "$kfold"
n_splits = 2
n_convblocks = [1, 3]
first_conv_width = [4, 8]
n_fcblocks = [1, 2]
n_conv = [1, 2]
learning_rate = [-31, 4]
selection_metrics = ["loss", "BA"]
epochs = 2
batch_size = 4
seed = 1
[Computational]
threads = 1
TOML

search() {  # ranks name random-search-options...
  local ranks="$1" name="$2"; shift 2
  "$mpiexec" -n "$ranks" "${preflags[@]}" "$bin" random-search "$work/launch" "$name" "$@" \
    > "$work/$name.log" 2>&1
}
search 2 two --n_runs 5 || { tail -20 "$work/two.log"; fail "search at 2 ranks"; }
search 1 one --n_runs 5 || { tail -20 "$work/one.log"; fail "search at 1 rank"; }

python3 - "$work/launch/two" "$work/launch/one" <<'PY' || fail "summary, runs or rank independence"
import csv, json, math, os, sys
def rows(folder):
    with open(os.path.join(folder, "random_search.tsv")) as f:
        return list(csv.DictReader(f, delimiter="\t"))
two, one = rows(sys.argv[1]), rows(sys.argv[2])
assert [r["run"] for r in two] == ["run-%d" % k for k in range(5)], [r["run"] for r in two]
statuses = {r["status"] for r in two}
assert statuses == {"finished", "failed"}, statuses  # both kinds in this search
metrics = ["validation_loss", "validation_BA"] + [
    "split-%d_validation_%s" % (k, m) for k in (0, 1) for m in ("loss", "BA")]
for r in two:
    rate = float(r["learning_rate"])
    if r["status"] == "failed":
        assert "the training diverged" in r["message"], r
        assert rate > 1, r  # only absurd learning rates diverge on this set
    else:
        assert r["message"] == "", r
        for m in metrics:
            assert math.isfinite(float(r[m])), (r["run"], m, r[m])
        mean = (float(r["split-0_validation_BA"]) + float(r["split-1_validation_BA"])) / 2
        assert abs(mean - float(r["validation_BA"])) < 1e-9, r
        folder = os.path.join(sys.argv[1], r["run"])
        config = json.load(open(os.path.join(folder, "maps.json")))
        assert config["architecture"] == "RandomArchitecture", config["architecture"]
        widths = [b["out_channels"] for b in config["convolutions_dict"].values()]
        assert "-".join(map(str, widths)) == r["channels"], (widths, r["channels"])
        assert config["n_fcblocks"] == int(r["n_fcblocks"]), config["n_fcblocks"]
        assert abs(config["learning_rate"] - rate) <= 1e-12 * rate, config["learning_rate"]
        for k in (0, 1):
            for m in ("loss", "BA"):
                path = os.path.join(folder, "split-%d" % k, "best-%s" % m, "model.pth.tar")
                assert os.path.isfile(path), path
# Each run's results do not depend on the group that trained it (2 groups of 1 rank vs 1 rank).
for a, b in zip(two, one):
    for key in ["status", "learning_rate", "channels", "n_conv", "n_fcblocks", "message"]:
        assert a[key] == b[key], (a["run"], key, a[key], b[key])
    if a["status"] == "finished":
        for m in metrics:
            x, y = float(a[m]), float(b[m])
            assert abs(x - y) <= 1e-5 * max(1.0, abs(x)), (a["run"], m, x, y)
record = json.load(open(os.path.join(sys.argv[1], "random_search.json")))
assert record["n_runs"] == 5 and len(record["runs"]) == 5, record
assert not [n for n in os.listdir(sys.argv[1]) if n.startswith(".clinicadl-hpc")], \
    os.listdir(sys.argv[1])  # no claim folder nor lock left
finished = [r for r in two if r["status"] == "finished"]
best = min(finished, key=lambda r: float(r["validation_loss"]))["run"]
log = open(os.path.join(os.path.dirname(os.path.dirname(sys.argv[1])), "two.log")).read()
assert "best run by validation loss: %s (" % best in log, best
best_ba = max(finished, key=lambda r: float(r["validation_BA"]))["run"]
assert "best run by validation BA: %s (" % best_ba in log, best_ba
print("random search: %d finished, %d failed; equal at 1 and 2 ranks" % (
    sum(r["status"] == "finished" for r in two), sum(r["status"] == "failed" for r in two)))
PY

# A finished run is a MAPS like any other.
finished=$(awk -F'\t' 'NR > 1 && $2 == "finished" {print $1; exit}' "$work/launch/two/random_search.tsv")
"$bin" predict "$work/launch/two/$finished" again --data "$data" \
  --tsv "$kfold/split-0/validation_baseline.tsv" --skip_leak_check > "$work/predict.log" 2>&1 ||
  { tail -5 "$work/predict.log"; fail "predict on a random-search run ($finished)"; }

# Run 0 (learning rate 2.6e28) trained by one group of 2 ranks: it diverges on both together.
search 2 pair --n_runs 1 || { tail -20 "$work/pair.log"; fail "a diverging 2-rank run"; }
grep -q "shared by 2 rank(s)" "$work/pair.log" || fail "run-0 was not trained by 2 ranks"
grep -q $'^run-0\tfailed' "$work/launch/pair/random_search.tsv" ||
  fail "the 2-rank run-0 is not recorded as failed: $(cat "$work/launch/pair/random_search.tsv")"

# A sampled network too large for the node, refused by the main rank of a group of 2 ranks:
# recorded as failed on every rank (not a hang, not an abort).
mkdir -p "$work/huge" && sed -e 's/^first_conv_width = .*/first_conv_width = [1048576]/' \
  -e 's/^n_convblocks = .*/n_convblocks = 2/' "$work/launch/random_search.toml" > "$work/huge/random_search.toml"
timeout 120 "$mpiexec" -n 2 "${preflags[@]}" "$bin" random-search "$work/huge" big --n_runs 1 \
  > "$work/huge.log" 2>&1 || fail "a search whose network is too large: $(tail -3 "$work/huge.log")"
grep -q $'^run-0\tfailed\t.*parameters' "$work/huge/big/random_search.tsv" 2>/dev/null ||
  fail "the too large run-0 is not recorded as failed: $(tail -3 "$work/huge.log")"

# Never replaced silently; --overwrite replaces a search folder only.
search 1 pair --n_runs 1
[ $? -eq 2 ] && grep -q "already exists and is not empty" "$work/pair.log" ||
  fail "an existing search folder was not refused: $(tail -3 "$work/pair.log")"
search 1 pair --n_runs 1 --overwrite || fail "--overwrite of a search folder"
mkdir -p "$work/launch/mine" && echo keep > "$work/launch/mine/notes.txt"
search 1 mine --n_runs 1 --overwrite
[ $? -eq 2 ] && [ -f "$work/launch/mine/notes.txt" ] ||
  fail "--overwrite of a folder that is not a search folder: $(tail -3 "$work/mine.log")"
# Stopped (SIGTERM to every rank, as SLURM's signal before a time limit) and continued with
# --resume: finished runs kept, started runs continued from their states, the others trained;
# the summary equals that of the uninterrupted search.
mkdir -p "$work/long" && sed -e 's/^epochs = 2$/epochs = 6/' -e 's/^learning_rate = .*/learning_rate = [3, 4]/' \
  -e 's/^n_splits = 2$/n_splits = 2\nsplit = [0]/' "$work/launch/random_search.toml" > "$work/long/random_search.toml"
long() {  # name random-search-options...
  local name="$1"; shift
  "$mpiexec" -n 2 "${preflags[@]}" "$bin" random-search "$work/long" "$name" "$@" >> "$work/$name.log" 2>&1
}
long reference --n_runs 3 || fail "the uninterrupted long search"
long stopped --n_runs 3 &
pid=$!
for _ in $(seq 600); do
  [ -f "$work/long/stopped/run-0/split-0/tmp/training_state.pt" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
pkill -TERM -f -- "^$bin random-search $work/long stopped"  # the ranks, not the launcher
wait "$pid"; status=$?
[ "$status" -eq 4 ] || fail "a stopped search: exit status $status, expected 4: $(tail -3 "$work/stopped.log")"
grep -q "random-search $work/long stopped --resume" "$work/stopped.log" || fail "no --resume hint"
[ -f "$work/long/stopped/random_search.tsv" ] && fail "a stopped search wrote its summary"
long stopped --resume || fail "--resume of the stopped search: $(tail -5 "$work/stopped.log")"
grep -q "continues from its training state" "$work/stopped.log" ||
  fail "--resume did not continue a run from its state"
python3 - "$work/long/reference/random_search.tsv" "$work/long/stopped/random_search.tsv" <<'PY' ||
import csv, sys
def rows(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))
reference, resumed = rows(sys.argv[1]), rows(sys.argv[2])
assert len(reference) == len(resumed) == 3, (len(reference), len(resumed))
for a, b in zip(reference, resumed):
    assert a["status"] == b["status"] == "finished", (a, b)
    for key in a:
        if key.startswith("validation_") or key == "learning_rate":
            assert a[key] == b[key], (a["run"], key, a[key], b[key])
print("stopped and resumed search: the same 3 runs and results as the uninterrupted one")
PY
  fail "the resumed search differs from the uninterrupted one"
echo "random search: $failures failure(s)"
[ "$failures" -eq 0 ]
