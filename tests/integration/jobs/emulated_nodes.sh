#!/usr/bin/env bash
# Ranks on emulated nodes: network namespaces made here (cdlnode1, cdlnode2), each with its own
# address and host name on a private bridge with no route out, Open MPI over TCP between them,
# launched through an rsh agent that enters the namespace. A 2-node training (1 rank per node,
# MAPS on the shared folder) must give the models of the same training on one node (2 ranks,
# shared memory) within 1e-5, and its log must show ranks on two hosts. The 2-node run stages the
# HDF5 file to a "node-local" folder first (--stage_data: one copy per host, removed at the end).
# Needs root (ip netns); otherwise skipped (status 77) with the reason.
# Usage: emulated_nodes.sh CLINICADL_HPC MPIEXEC DATA.h5 SPLIT_DIR WORK_DIR
set -uo pipefail
bin="$1"; mpiexec="$2"; data="$3"; splits="$4"; work="$5"
[ "$(id -u)" -eq 0 ] || { echo "SKIPPED: network namespaces need root"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
subnet=10.217.42
bridge=cdlbr0
nodes=(cdlnode1 cdlnode2)
teardown() {
  for node in "${nodes[@]}"; do
    for pid in $(ip netns pids "$node" 2>/dev/null); do kill -9 "$pid" 2>/dev/null; done
    ip netns del "$node" 2>/dev/null
    ip link del "v$node" 2>/dev/null
  done
  ip link del "$bridge" 2>/dev/null
  true
}
teardown
trap teardown EXIT
rm -rf "$work" && mkdir -p "$work" || exit 1
if ! ip link add "$bridge" type bridge 2>/dev/null; then
  echo "SKIPPED: no bridge can be made here (ip link add type bridge refused)"; exit 77
fi
ip addr add "$subnet.1/24" dev "$bridge" && ip link set "$bridge" up || { echo "SKIPPED: bridge set-up"; exit 77; }
n=10
for node in "${nodes[@]}"; do
  n=$((n + 1))
  ip netns add "$node" && ip link add "v$node" type veth peer name eth0 netns "$node" &&
    ip link set "v$node" master "$bridge" up &&
    ip netns exec "$node" ip addr add "$subnet.$n/24" dev eth0 &&
    ip netns exec "$node" ip link set eth0 up && ip netns exec "$node" ip link set lo up ||
    { echo "SKIPPED: network namespace $node cannot be set up"; exit 77; }
done
# The rsh agent: "agent HOST WORDS..." runs the words as a shell command inside HOST's namespace,
# under a UTS namespace of its own whose host name is HOST, on cores of its own where there are
# two (cdlnode1 the first, cdlnode2 the last: the ranks run unbound, inheriting them; bound, Open
# MPI would put both on core 0).
last=$(( $(nproc) - 1 ))
cat > "$work/agent" <<AGENT
#!/usr/bin/env bash
host="\$1"; shift
echo "\$host" >> "$work/agent.calls"
cpus=0-$last
case "\$host" in cdlnode1) cpus=0 ;; cdlnode2) cpus=$last ;; esac
exec taskset -c "\$cpus" ip netns exec "\$host" unshare --uts sh -c "hostname \$host; \$*"
AGENT
chmod +x "$work/agent"
args=(classification "$data" "$splits" --epochs 2 --batch_size 2 --threads 1 --deterministic
      --learning_rate 1e-3 --seed 3)
"$mpiexec" --quiet -np 2 "$bin" train "${args[@]}" "$work/one_node" > "$work/one_node.log" 2>&1 ||
  { tail -5 "$work/one_node.log"; echo "FAIL: the one-node run"; exit 1; }
mkdir -p "$work/stage"
timeout -k 5 300 "$mpiexec" --quiet -np 2 --host cdlnode1:1,cdlnode2:1 --bind-to none \
  --mca plm_rsh_agent "$work/agent" --mca btl tcp,self --mca btl_tcp_if_include "$subnet.0/24" \
  --mca oob_tcp_if_include "$subnet.0/24" -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM \
  "$bin" train "${args[@]}" --stage_data "$work/stage" "$work/two_nodes" > "$work/two_nodes.log" 2>&1 ||
  { tail -15 "$work/two_nodes.log"; echo "FAIL: the two-node run"; exit 1; }
failures=0
grep -q "stage_data: 1 HDF5 file(s) copied to $work/stage/clinicadl-hpc-cdlnode1-" "$work/two_nodes.log" ||
  { echo "FAIL: the 2-node run did not stage its data on cdlnode1"; failures=1; }
[ -z "$(ls -A "$work/stage")" ] ||
  { echo "FAIL: staged copies left behind: $(ls "$work/stage")"; failures=1; }
[ "$(sort -u "$work/agent.calls" 2>/dev/null | tr '\n' ' ')" = "cdlnode1 cdlnode2 " ] ||
  { echo "FAIL: the launcher did not enter both namespaces: $(cat "$work/agent.calls" 2>/dev/null)"; failures=1; }
python3 - "$work/one_node" "$work/two_nodes" <<'PY' || failures=1
import glob, os, sys
import torch
one, two = sys.argv[1], sys.argv[2]
models = sorted(glob.glob(os.path.join(one, "split-0", "best-*", "model.pth.tar")))
assert models, "no best model in the one-node run"
for path in models:
    a = torch.load(path, weights_only=True)["model"]
    b = torch.load(os.path.join(two, os.path.relpath(path, one)), weights_only=True)["model"]
    worst = max(float((a[k].double() - b[k].double()).abs().max()) for k in a)
    assert worst <= 1e-5, (path, worst)
print(f"ok: {len(models)} best model(s) of the 2-node run equal the 1-node run's (1e-5)")
PY
[ "$failures" -eq 0 ]
