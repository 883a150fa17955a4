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

# bench_wait_idle [MAX_SECONDS=600]: waits (30 s at a time) until the 1-minute load average is
# below 0.8 or MAX_SECONDS have passed, then prints "load: <the /proc/loadavg line>" (so that
# every measurement records the load it ran under).
bench_wait_idle() {
  local waited=0 limit=${1:-600}
  while awk '{ exit !($1 >= 0.8) }' /proc/loadavg && [ "$waited" -lt "$limit" ]; do
    sleep 30
    waited=$((waited + 30))
  done
  echo "load: $(cat /proc/loadavg) (waited ${waited} s)"
}

# Emulated nodes (as tests/integration/jobs/emulated_nodes.sh makes them, with names of their own
# so that both can run at once): network namespaces cdlbench1 and cdlbench2 on a private bridge,
# each with its own address, host name and half of the cores, Open MPI over TCP between them
# through an rsh agent that enters the namespace. Needs root.
bench_nodes=(cdlbench1 cdlbench2)
bench_nodes_subnet=10.217.43

# bench_nodes_down: removes the namespaces, their links and the bridge (and kills what runs there).
# Safe under set -e (what is already gone is skipped).
bench_nodes_down() {
  local node pid
  for node in "${bench_nodes[@]}"; do
    for pid in $(ip netns pids "$node" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
    ip netns del "$node" 2>/dev/null || true
    ip link del "v$node" 2>/dev/null || true
  done
  ip link del cdlbenchbr 2>/dev/null || true
}

# bench_nodes_up DIR: makes the two nodes (the agent script goes in DIR) and sets the array
# bench_nodes_mpirun: the mpirun options that put one rank on each node. Returns 1 (after
# removing what it made) when namespaces cannot be made here (not root, no bridge support).
bench_nodes_up() {
  local dir=$1 node n=10
  [ "$(id -u)" -eq 0 ] || { echo "emulated nodes need root" >&2; return 1; }
  bench_nodes_down
  if ! { ip link add cdlbenchbr type bridge 2>/dev/null &&
         ip addr add "$bench_nodes_subnet.1/24" dev cdlbenchbr && ip link set cdlbenchbr up; }; then
    echo "no bridge can be made here" >&2; bench_nodes_down; return 1
  fi
  for node in "${bench_nodes[@]}"; do
    n=$((n + 1))
    if ! { ip netns add "$node" && ip link add "v$node" type veth peer name eth0 netns "$node" &&
           ip link set "v$node" master cdlbenchbr up &&
           ip netns exec "$node" ip addr add "$bench_nodes_subnet.$n/24" dev eth0 &&
           ip netns exec "$node" ip link set eth0 up && ip netns exec "$node" ip link set lo up; }; then
      echo "network namespace $node cannot be set up" >&2; bench_nodes_down; return 1
    fi
  done
  # Each node gets cores of its own (nproc / nodes, taskset on its Open MPI daemon, which its
  # ranks inherit): sharing all the cores, each node's Open MPI would bind its rank to the same
  # first core and leave the others idle.
  local per=$(( $(nproc) / ${#bench_nodes[@]} )) cases="" i=0
  [[ "$per" -ge 1 ]] || per=1
  for node in "${bench_nodes[@]}"; do
    cases+="  $node) cpus=$(( i * per % $(nproc) ))-$(( (i * per % $(nproc)) + per - 1 )) ;;"$'\n'
    i=$((i + 1))
  done
  cat > "$dir/agent" <<AGENT
#!/usr/bin/env bash
host="\$1"; shift
case "\$host" in
$cases  *) cpus=0-$(( $(nproc) - 1 )) ;;
esac
exec taskset -c "\$cpus" ip netns exec "\$host" unshare --uts sh -c "hostname \$host; \$*"
AGENT
  chmod +x "$dir/agent"
  local hosts="${bench_nodes[0]}:1,${bench_nodes[1]}:1" btl="tcp,self"
  # shellcheck disable=SC2034  # used by the scripts that source this file
  # --bind-to none: each rank keeps its node's cores (Open MPI would bind both to core 0).
  bench_nodes_mpirun=(--host "$hosts" --mca plm_rsh_agent "$dir/agent" --bind-to none
    --mca btl "$btl" --mca btl_tcp_if_include "$bench_nodes_subnet.0/24"
    --mca oob_tcp_if_include "$bench_nodes_subnet.0/24"
    -x OMPI_ALLOW_RUN_AS_ROOT -x OMPI_ALLOW_RUN_AS_ROOT_CONFIRM)
}
