#!/usr/bin/env python3
"""Scaling model of clinicadl-hpc's data-parallel training: epoch time and parallel efficiency
at 1-512 ranks from a single-rank step time, the gradient buckets and an alpha-beta all-reduce cost.

Standard library only. Subcommands:
  fit RECORDS.tsv [--fabric F]      alpha and beta of the ring all-reduce, least squares over the
                                    rows "fabric ranks bytes seconds" (header line allowed)
  calibrate LOG TSV ...             the single-rank inputs of the model (JSON) from a 1-rank run
                                    with --profiler: its log and training.tsv
  check --calibration C --fits F --runs R
                                    predicted against measured steady epoch times (bench runs)
  table [--calibration C --fits F]  the GPU and CPU-node tables and the job size to ask for
  buckets --input_size DxHxW        Conv5_FC3's gradient buckets (bytes, when backward readies them)

The model (bench/README.md, "scaling_model"):
  all-reduce of n bytes over P ranks in one ring:  t = 2(P-1) alpha + 2(P-1)/P n beta
  hierarchical (g ranks per node, P = M g):        intra-node reduce-scatter + all-gather
      2(g-1) alpha_i + 2(g-1)/g n beta_i, plus the inter-node ring of each rank's 1/g shard, the
      node's NICs shared by its g ranks: 2(M-1) alpha_o + 2(M-1)/M n / (nics B_nic)
  one weight update: forward + backward + optimizer + exposed communication, where the buckets
      (25 MiB, reverse registration order) start when backward has produced them (overlap: CPU/MPI
      with a core left for the reduction thread) or all after backward (no overlap: the NCCL path,
      and CPU nodes whose ranks x threads take every core), reduced one after another
  one epoch: the updates (ceil(N_train / (b P)), the last one maybe partial) + evaluation of the
      training and validation sets spread over the ranks + the checkpoint written by rank 0
  efficiency E(P) = epoch(1) / (P epoch(P)).
"""
import argparse
import json
import math
import os
import re
import statistics
import sys

MIB = 1024 * 1024
BUCKET_BYTES = 25 * MIB

# ---------------------------------------------------------------------------------------------
# Conv5_FC3 (ClinicaDL's): five blocks Conv3d(3x3x3, padding 1) + BatchNorm + ReLU + max pooling
# of 2 with ceil mode, then Linear(128*d*h*w, 1300) ReLU Linear(1300, 50) ReLU Linear(50, 2).
CONV_CHANNELS = (8, 16, 32, 64, 128)
FC_WIDTHS = (1300, 50)


def conv5_fc3_layers(input_size, in_channels=1, classes=2):
    """Layers in registration order: (name, [parameter element counts], forward multiply-adds)."""
    d, h, w = input_size
    layers = []
    channels = in_channels
    for i, out in enumerate(CONV_CHANNELS):
        voxels = d * h * w
        layers.append((f"conv{i + 1}", [out * channels * 27, out], voxels * out * channels * 27))
        layers.append((f"norm{i + 1}", [out, out], 0))
        channels = out
        d, h, w = (d + 1) // 2, (h + 1) // 2, (w + 1) // 2
    width = channels * d * h * w
    for i, out in enumerate(FC_WIDTHS + (classes,)):
        layers.append((f"fc{i + 1}", [width * out, out], width * out))
        width = out
    return layers


def parameter_count(input_size):
    return sum(sum(p) for _, p, _ in conv5_fc3_layers(input_size))


def conv5_fc3_buckets(input_size, bucket_bytes=BUCKET_BYTES, element_bytes=4):
    """GradientSync's buckets: parameters in reverse registration order, greedily packed into
    buckets of at most bucket_bytes (a larger parameter alone in its own). Returns a list of
    (bytes, ready) where ready is the fraction of backward done when the bucket's last gradient is
    accumulated (backward cost of a layer taken proportional to its multiply-adds, twice its
    forward's, once for the first convolution, which needs no input gradient)."""
    layers = conv5_fc3_layers(input_size)
    costs = [2 * macs for _, _, macs in layers]
    costs[0] = layers[0][2]
    total = float(sum(costs))
    params = []  # (bytes, layer index) in backward order
    for index in reversed(range(len(layers))):
        for count in reversed(layers[index][1]):
            params.append((count * element_bytes, index))
    done_after = {}  # layer index -> fraction of backward done once it is finished
    acc = 0.0
    for index in reversed(range(len(layers))):
        acc += costs[index]
        done_after[index] = acc / total
    buckets, current, current_ready = [], 0, 0.0
    for nbytes, index in params:
        if current and current + nbytes > bucket_bytes:
            buckets.append((current, current_ready))
            current = 0
        current += nbytes
        current_ready = done_after[index]
    if current:
        buckets.append((current, current_ready))
    return buckets


# ---------------------------------------------------------------------------------------------
# All-reduce cost.
def ring_allreduce(nbytes, ranks, alpha, beta):
    """Ring all-reduce: 2(P-1) message steps of alpha, 2(P-1)/P n bytes through each rank's link."""
    if ranks <= 1:
        return 0.0
    return 2 * (ranks - 1) * alpha + 2.0 * (ranks - 1) / ranks * nbytes * beta


class Fabric:
    """How the ranks are linked: g ranks per node joined by (alpha_intra, beta_intra); nodes
    joined by (alpha_inter, beta_inter), beta_inter being seconds per byte of ONE NIC, `nics` NICs
    per node shared by its ranks."""

    def __init__(self, name, per_node, alpha_intra, beta_intra, alpha_inter=None, beta_inter=None,
                 nics=1):
        self.name = name
        self.per_node = per_node
        self.alpha_intra, self.beta_intra = alpha_intra, beta_intra
        self.alpha_inter = alpha_intra if alpha_inter is None else alpha_inter
        self.beta_inter = beta_intra if beta_inter is None else beta_inter
        self.nics = nics

    def allreduce(self, nbytes, ranks):
        g = self.per_node
        if ranks <= g:
            return ring_allreduce(nbytes, ranks, self.alpha_intra, self.beta_intra)
        nodes = math.ceil(ranks / g)
        intra = 2 * (g - 1) * self.alpha_intra + 2.0 * (g - 1) / g * nbytes * self.beta_intra
        inter = (2 * (nodes - 1) * self.alpha_inter
                 + 2.0 * (nodes - 1) / nodes * nbytes * self.beta_inter / self.nics)
        return intra + inter


def overlaps_backward(ranks_per_node, threads, cores_per_node):
    """True when a CPU all-reduce can run beside backward: the node's ranks x threads leave a core
    for the reduction threads. Otherwise MPI's polling and the kernel's network stack take turns
    with backward on its cores, and the reduction counts whole, as if after backward."""
    return ranks_per_node * threads < cores_per_node


def exposed_communication(buckets, backward, fabric, ranks, overlap):
    """Seconds an update waits for its gradient all-reduce after backward. buckets: [(bytes,
    ready fraction)] in the order they start; one reduction at a time (one background thread, one
    communicator), each starting when backward has produced it and the previous one is done."""
    if ranks <= 1:
        return 0.0
    if not overlap:
        return sum(fabric.allreduce(n, ranks) for n, _ in buckets)
    end = 0.0
    for nbytes, ready in buckets:
        end = max(end, ready * backward) + fabric.allreduce(nbytes, ranks)
    return max(0.0, end - backward)


# ---------------------------------------------------------------------------------------------
# Epoch time.
class Workload:
    """Single-rank inputs at micro-batch `batch`: forward+backward seconds per update (scales with
    the samples of the micro-batch), backward's share of it, optimizer seconds per update, forward
    (evaluation) seconds per sample, checkpoint seconds per epoch, the gradient buckets."""

    def __init__(self, batch, compute, backward_share, optimizer, eval_sample, checkpoint, buckets,
                 fixed=0.0, busy=1.0):
        self.busy = busy  # compute slowdown of a rank whose node's other cores are busy too
        self.batch = batch
        self.compute = compute
        self.backward_share = backward_share
        self.optimizer = optimizer
        self.eval_sample = eval_sample
        self.checkpoint = checkpoint
        self.buckets = buckets
        self.fixed = fixed  # per micro-batch seconds that do not scale with its samples


def update_plan(train, batch, ranks):
    """Samples of the busiest rank in each weight update: micro-batches of `batch` samples (the
    last one of the epoch maybe smaller) handed to the ranks, one each per update."""
    plan = []
    per_update = batch * ranks
    updates = math.ceil(train / per_update)
    for u in range(updates):
        left = train - u * per_update
        plan.append(min(batch, left))
    return plan


def epoch_time(work, fabric, train, valid, ranks, overlap):
    """Returns (epoch seconds, dict of its parts). With several ranks the compute, optimizer and
    evaluation times are multiplied by work.busy (ranks sharing a node's cores and memory)."""
    plan = update_plan(train, work.batch, ranks)
    busy = work.busy if ranks > 1 else 1.0
    training = 0.0
    exposed_total = 0.0
    for samples in plan:
        scale = samples / work.batch
        compute = (work.fixed + work.compute * scale) * busy
        backward = compute * work.backward_share
        exposed = exposed_communication(work.buckets, backward, fabric, ranks, overlap)
        exposed_total += exposed
        training += compute + work.optimizer * busy + exposed
    evaluation = busy * work.eval_sample * (math.ceil(train / ranks) + math.ceil(valid / ranks))
    total = training + evaluation + work.checkpoint
    return total, {"updates": len(plan), "training": training, "exposed": exposed_total,
                   "evaluation": evaluation, "checkpoint": work.checkpoint}


def scaling_rows(work, fabric, train, valid, rank_counts, overlap):
    base, _ = epoch_time(work, fabric, train, valid, 1, overlap)
    rows = []
    for p in rank_counts:
        t, parts = epoch_time(work, fabric, train, valid, p, overlap)
        rows.append({"ranks": p, "nodes": math.ceil(p / fabric.per_node), "epoch": t,
                     "speedup": base / t, "efficiency": base / (p * t), **parts})
    return rows


def recommend(rows, threshold=0.8):
    """The largest rank count of `rows` whose efficiency is at least threshold, and the fastest."""
    ok = [r for r in rows if r["efficiency"] >= threshold]
    best = max(ok, key=lambda r: r["ranks"]) if ok else rows[0]
    fastest = min(rows, key=lambda r: r["epoch"])
    return best, fastest


# ---------------------------------------------------------------------------------------------
# Fitting alpha and beta.
def fit_alpha_beta(points):
    """Least squares of t = 2(P-1) alpha + 2(P-1)/P n beta over points [(P, n, t)], P >= 2, in
    relative terms (each residual divided by its t, so that a 10 MB and a 170 MB reduction count
    alike). Returns (alpha, beta); alpha is clamped at 0 (refitting beta alone) when the fit
    gives < 0."""
    # each row divided by t: (a/t) alpha + (b/t) beta = 1
    rows = [(2.0 * (p - 1) / t, 2.0 * (p - 1) / p * n / t, 1.0) for p, n, t in points if p >= 2]
    if len(rows) < 2:
        raise ValueError("fit_alpha_beta needs two points or more")
    s11 = sum(a * a for a, _, _ in rows)
    s12 = sum(a * b for a, b, _ in rows)
    s22 = sum(b * b for _, b, _ in rows)
    y1 = sum(a * t for a, _, t in rows)
    y2 = sum(b * t for _, b, t in rows)
    det = s11 * s22 - s12 * s12
    if abs(det) < 1e-30 * max(1.0, s11 * s22):
        raise ValueError("fit_alpha_beta: the points do not separate alpha from beta")
    alpha = (y1 * s22 - y2 * s12) / det
    beta = (s11 * y2 - s12 * y1) / det
    if alpha < 0:
        alpha, beta = 0.0, y2 / s22
    return alpha, beta


def read_records(path):
    """Rows 'fabric ranks bytes seconds ...' (tab or space separated; '#' and a header skipped)."""
    records = []
    with open(path) as f:
        for line in f:
            words = line.split()
            if not words or words[0].startswith("#") or words[0] == "fabric":
                continue
            records.append((words[0], int(words[1]), float(words[2]), float(words[3])))
    return records


def fits_from_records(records):
    """{fabric: {"alpha": s, "beta": s/byte, "points": [[P, n, median t]]}}: the median time of
    each (fabric, P, n), then the least-squares fit."""
    groups = {}
    for fabric, p, n, t in records:
        groups.setdefault(fabric, {}).setdefault((p, n), []).append(t)
    fits = {}
    for fabric, cells in groups.items():
        points = [(p, n, statistics.median(ts)) for (p, n), ts in sorted(cells.items())]
        alpha, beta = fit_alpha_beta(points)
        fits[fabric] = {"alpha": alpha, "beta": beta, "points": [list(x) for x in points]}
    return fits


# ---------------------------------------------------------------------------------------------
# Calibration from a 1-rank run: its log (with --profiler) and training.tsv.
def epoch_durations(tsv_path):
    """Durations of the epochs after the first (training.tsv's time column is cumulative)."""
    times = {}
    with open(tsv_path) as f:
        header = f.readline().rstrip("\n").split("\t")
        epoch_col, time_col = header.index("epoch"), header.index("time")
        for line in f:
            cells = line.rstrip("\n").split("\t")
            times[int(cells[epoch_col])] = float(cells[time_col])  # the epoch's last row
    epochs = sorted(times)
    return [times[b] - times[a] for a, b in zip(epochs, epochs[1:])]


def busy_factor(cal, log_path, tsv_path, ranks=2):
    """The compute slowdown of a rank when `ranks` ranks share the node: from a run of the
    calibration set at that many ranks, its time per update (exposed all-reduce per epoch taken
    out) over the 1-rank time per update."""
    log = parse_log(log_path)
    epochs = len(epoch_durations(tsv_path)) + 1
    train = log["train"]
    updates = math.ceil(train / (cal["batch"] * ranks))
    per_update = (train / log["steady_rate"] - log.get("exposed_s", 0.0) / epochs) / updates
    return per_update / (cal["compute"] + cal["optimizer"])


def parse_log(log_path):
    """The trainer's plan, throughput line and --profiler table."""
    with open(log_path, errors="replace") as f:
        text = f.read()
    out = {"phases": {}}
    m = re.search(r"(\d+) training and (\d+) validation images", text)
    if m:
        out["train"], out["valid"] = int(m.group(1)), int(m.group(2))
    m = re.search(r"throughput ([0-9.eE+-]+) samples/s after the first epoch", text)
    if m:
        out["steady_rate"] = float(m.group(1))
    m = re.search(r"gradient all-reduce ([0-9.eE+-]+) s \(([0-9.eE+-]+) s not hidden", text)
    if m:
        out["allreduce_s"], out["exposed_s"] = float(m.group(1)), float(m.group(2))
    m = re.search(r"Conv5_FC3, (\d+) parameters", text)
    if m:
        out["parameters"] = int(m.group(1))
    for name in ("data wait", "forward", "backward", "reduction", "optimizer", "evaluation",
                 "checkpoint"):
        m = re.search(r"\b" + name + r"\s+([0-9.]+)\s+[0-9.]+%\s+(\d+)", text)
        if m:
            out["phases"][name] = (float(m.group(1)), int(m.group(2)))
    return out


def calibrate(log_path, tsv_path, batch, input_size, profile_path=None):
    """Single-rank inputs: the steady epoch (epochs after the first) split by the profiler's
    shares (from profile_path, else from the log itself): training = N_train / steady throughput,
    split into forward+backward and optimizer; the rest of the epoch into evaluation (per
    evaluated sample) and checkpoint."""
    log = parse_log(log_path)
    ph = parse_log(profile_path)["phases"] if profile_path else log["phases"]
    epoch = statistics.median(epoch_durations(tsv_path))
    train, valid = log["train"], log["valid"]
    training = train / log["steady_rate"]
    updates = math.ceil(train / batch)
    fwd, bwd, opt = ph["forward"][0], ph["backward"][0], ph["optimizer"][0]
    per_update = training / updates
    compute = per_update * (fwd + bwd) / (fwd + bwd + opt)
    optimizer = per_update - compute
    rest = max(0.0, epoch - training)
    ev, ck = ph["evaluation"][0], ph["checkpoint"][0]
    checkpoint = rest * ck / (ev + ck)
    eval_sample = (rest - checkpoint) / (train + valid)
    return {"batch": batch, "input_size": list(input_size), "compute": compute,
            "backward_share": bwd / (fwd + bwd), "optimizer": optimizer,
            "eval_sample": eval_sample, "checkpoint": checkpoint,
            "parameters": log.get("parameters", parameter_count(input_size)),
            "steady_epoch": epoch, "train": train, "valid": valid}


def workload_from_calibration(cal, input_size=None, batch=None):
    """The calibrated workload, moved to another input size (compute, evaluation and optimizer
    scaled by the multiply-adds and parameters of Conv5_FC3 there; checkpoint by its parameters)
    and micro-batch (forward+backward proportional to the samples)."""
    size = tuple(input_size or cal["input_size"])
    cal_size = tuple(cal["input_size"])
    macs = sum(m for _, _, m in conv5_fc3_layers(size)) / sum(m for _, _, m in conv5_fc3_layers(cal_size))
    params = parameter_count(size) / parameter_count(cal_size)
    b = batch or cal["batch"]
    return Workload(b, cal["compute"] * macs * b / cal["batch"], cal["backward_share"],
                    cal["optimizer"] * params, cal["eval_sample"] * macs, cal["checkpoint"] * params,
                    conv5_fc3_buckets(size), busy=cal.get("busy", 1.0))


# ---------------------------------------------------------------------------------------------
# Documented GPU figures.
# Single-GPU step: the eager PyTorch baseline of Conv5_FC3 at 1x169x208x179 with Adam on one H200
# (shared/gpu/README.md): fp32 46.3 images/s at batch 4, 53.4 at batch 16; bf16 autocast 163.3 and
# 177.4. A step is taken linear in the batch through those two points.
GPU_RATES = {"fp32": {4: 46.3, 16: 53.4}, "bf16": {4: 163.3, 16: 177.4}}
# Interconnect (our reading of published figures, rounded down):
#  - NVLink 4 inside an 8-GPU H100/H200 node: 900 GB/s per GPU both directions together, i.e.
#    450 GB/s each way; nccl-tests all_reduce bus bandwidths published for such nodes lie around
#    350-480 GB/s at large messages. We take 360 GB/s (ring, no NVLink SHARP), ~2 us per ring step.
#  - InfiniBand NDR between nodes: 400 Gb/s = 50 GB/s per GPU each way, one NIC per GPU (8 per
#    node); multi-node nccl-tests reach roughly 90 % of line rate: 45 GB/s per NIC, ~5 us per step.
NVLINK = {"alpha": 2e-6, "beta": 1 / 360e9}
IB_NDR = {"alpha": 5e-6, "beta": 1 / 45e9}
GPUS_PER_NODE = 8


def gpu_workload(precision, batch, eval_ratio, checkpoint, input_size=(169, 208, 179),
                 backward_share=2 / 3):
    """A GPU update from the documented rates: step(b) = c0 + c1 b through the two measured
    batches (forward+backward+Adam; the optimizer is inside c0 and c1 here); evaluation per sample
    = eval_ratio x the training time per sample at that batch."""
    rates = GPU_RATES[precision]
    (b1, r1), (b2, r2) = sorted(rates.items())
    t1, t2 = b1 / r1, b2 / r2
    c1 = (t2 - t1) / (b2 - b1)
    c0 = t1 - c1 * b1
    return Workload(batch, c1 * batch, backward_share, 0.0, eval_ratio * (c0 + c1 * batch) / batch,
                    checkpoint, conv5_fc3_buckets(input_size), fixed=c0)


def gpu_fabric():
    return Fabric("8x H100/H200 per node, NVLink 4 + InfiniBand NDR", GPUS_PER_NODE,
                  NVLINK["alpha"], NVLINK["beta"], IB_NDR["alpha"], IB_NDR["beta"],
                  nics=GPUS_PER_NODE)


# ---------------------------------------------------------------------------------------------
# Command line.
def parse_size(text):
    size = text.split("@")[-1]
    return tuple(int(x) for x in size.split("x"))


def cmd_fit(args):
    fits = fits_from_records(read_records(args.records))
    for fabric, f in fits.items():
        print(f"{fabric}: alpha {f['alpha'] * 1e6:.1f} us, beta {f['beta'] * 1e9:.4f} ns/byte "
              f"({1 / f['beta'] / 1e9:.2f} GB/s), from {len(f['points'])} sizes")
        for p, n, t in f["points"]:
            model = ring_allreduce(n, p, f["alpha"], f["beta"])
            print(f"  P={p} {n / 1e6:8.1f} MB: measured {t * 1e3:8.2f} ms, fit {model * 1e3:8.2f} ms"
                  f" ({(model - t) / t * 100:+.1f} %)")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(fits, f, indent=1)


def cmd_calibrate(args):
    cal = calibrate(args.log, args.tsv, args.batch, parse_size(args.input_size), args.profile)
    if args.busy_log:
        cal["busy"] = busy_factor(cal, args.busy_log, args.busy_tsv)
    text = json.dumps(cal, indent=1)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    print(text)


def fabric_from_fit(fits, intra, inter=None, per_node=2):
    a, b = fits[intra]["alpha"], fits[intra]["beta"]
    if inter is None:
        return Fabric(intra, per_node, a, b)
    return Fabric(f"{intra}+{inter}", per_node, a, b, fits[inter]["alpha"], fits[inter]["beta"], 1)


def load_json(path):
    with open(path) as f:
        return json.load(f)


def cmd_check(args):
    cal = load_json(args.calibration)
    fits = load_json(args.fits)
    work = workload_from_calibration(cal, parse_size(args.input_size), args.batch)
    # Fabrics of the measured runs: 2 ranks on one machine (shared memory), 2 emulated nodes (TCP)
    # with half of the cores each; whether the reductions overlap backward: (ranks, cores) per node.
    fabrics = {"shm": Fabric("shm", 2, fits["shm"]["alpha"], fits["shm"]["beta"])}
    per_node = {"shm": lambda p: (p, args.cores), "tcp": lambda p: (1, max(1, args.cores // 2))}
    if "tcp" in fits:
        fabrics["tcp"] = Fabric("tcp", 1, 0, 0, fits["tcp"]["alpha"], fits["tcp"]["beta"], 1)
    runs = {}
    with open(args.runs) as f:
        for line in f:
            w = line.split()
            if not w or w[0] in ("run", "#"):
                continue
            runs.setdefault((w[0], int(w[1]), w[2]), []).append(float(w[3]))
    print(f"{'run':<12} {'ranks':>5} {'fabric':>6} {'measured s':>11} {'predicted s':>12} "
          f"{'error':>8}  (steady epoch: median of {min(len(v) for v in runs.values())}+ runs)")
    results = []
    busy = work.busy
    worst = {}
    for label, factor in (("ranks alone", 1.0), (f"busy node x{busy:.3f}", busy)):
        if label != "ranks alone" and busy == 1.0:
            continue
        work.busy = factor
        print(f"-- model with {label}:")
        for (name, p, fabric), values in runs.items():
            measured = statistics.median(values)
            overlap = overlaps_backward(per_node[fabric](p)[0], args.threads, per_node[fabric](p)[1])
            predicted, parts = epoch_time(work, fabrics[fabric], args.train, args.valid, p, overlap)
            err = (predicted - measured) / measured
            worst[label] = max(worst.get(label, 0.0), abs(err))
            results.append({"model": label, "run": name, "ranks": p, "fabric": fabric,
                            "measured": measured, "predicted": predicted, "error": err, **parts})
            print(f"{name:<12} {p:>5} {fabric:>6} {measured:>11.3f} {predicted:>12.3f} "
                  f"{err * 100:>+7.1f}%   (training {parts['training']:.3f}, of which exposed "
                  f"{'(overlapped) ' if overlap else '(after backward) '}"
                  f"all-reduce {parts['exposed']:.4f}; evaluation {parts['evaluation']:.3f}; "
                  f"checkpoint {parts['checkpoint']:.3f})")
    for label, w in worst.items():
        print(f"largest error, {label}: {w * 100:.1f} % (goal <= 15 %)")
    if args.output:
        with open(args.output, "w") as f:
            json.dump(results, f, indent=1)


def print_rows(title, rows, unit="GPUs"):
    print(title)
    print(f"| {unit} | nodes | updates/epoch | exposed all-reduce / epoch | epoch | speed-up | efficiency |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['ranks']} | {r['nodes']} | {r['updates']} | {r['exposed']:.3g} s | "
              f"{r['epoch']:.3g} s | {r['speedup']:.1f} | {r['efficiency'] * 100:.0f} % |")


def cmd_table(args):
    counts = [2 ** k for k in range(10)]  # 1 .. 512
    size = parse_size(args.input_size)
    cal = load_json(args.calibration) if args.calibration else None
    fits = load_json(args.fits) if args.fits else None
    if cal:
        eval_ratio = cal["eval_sample"] / (cal["compute"] / cal["batch"] + cal["optimizer"] / cal["batch"])
        cpu_work = workload_from_calibration(cal, size, args.batch)
        ckpt = cpu_work.checkpoint
    else:
        eval_ratio, cpu_work, ckpt = 1 / 3, None, 1.0
    print(f"data set: {args.train} training + {args.valid} validation images of 1@"
          f"{'x'.join(map(str, size))}, Conv5_FC3, batch {args.batch} per rank, "
          f"{parameter_count(size) * 4 / 1e6:.1f} MB of gradients in "
          f"{len(conv5_fc3_buckets(size))} buckets")
    if args.gpu_checkpoint is not None:
        ckpt = args.gpu_checkpoint
    summary = []
    fabric = gpu_fabric()
    for precision in ("fp32", "bf16"):
        work = gpu_workload(precision, args.batch, eval_ratio, ckpt, size)
        rows = scaling_rows(work, fabric, args.train, args.valid, counts, overlap=False)
        print_rows(f"\nGPUs ({fabric.name}), {precision} (documented H200 step "
                   f"{(work.fixed + work.compute) * 1e3:.0f} ms at batch {args.batch}; evaluation "
                   f"{work.eval_sample * 1e3:.1f} ms per image; checkpoint {ckpt:.2f} s per epoch), "
                   "all-reduce after backward (NCCL):", rows)
        best, fastest = recommend(rows, args.threshold)
        summary.append((f"GPUs {precision}", best, fastest))
    if cpu_work and fits and "shm" in fits:
        g = args.cpu_ranks_per_node
        if args.cpu_inter == "tcp" and "tcp" in fits:
            cpu = fabric_from_fit(fits, "shm", "tcp", per_node=g)
        else:
            cpu = Fabric("shm (fitted here) + InfiniBand NDR (documented, 1 NIC per node)", g,
                         fits["shm"]["alpha"], fits["shm"]["beta"], IB_NDR["alpha"], IB_NDR["beta"], 1)
        cores = args.cpu_cores_per_node or g
        overlap = overlaps_backward(g, 1, cores)
        rows = scaling_rows(cpu_work, cpu, args.train, args.valid, counts, overlap=overlap)
        print_rows(f"\nCPU ranks ({g} ranks x 1 thread per node of {cores} cores, as measured here, "
                   f"busy-node factor {cpu_work.busy:.2f}; {cpu.name}), step "
                   f"{cpu_work.compute + cpu_work.optimizer:.2f} s at that batch, all-reduce "
                   f"{'during' if overlap else 'after'} backward (MPI):", rows, unit="ranks")
        best, fastest = recommend(rows, args.threshold)
        summary.append(("CPU ranks", best, fastest))
    print(f"\nrecommendation for {args.train} training images, batch {args.batch} per rank "
          f"(efficiency >= {args.threshold * 100:.0f} %):")
    for name, best, fastest in summary:
        print(f"  {name}: ask for {best['ranks']} ({best['nodes']} node(s)), epoch {best['epoch']:.3g} s, "
              f"efficiency {best['efficiency'] * 100:.0f} %; fastest epoch at {fastest['ranks']} "
              f"({fastest['epoch']:.3g} s, {fastest['efficiency'] * 100:.0f} %)")


def cmd_buckets(args):
    size = parse_size(args.input_size)
    print(f"Conv5_FC3 at 1@{'x'.join(map(str, size))}: {parameter_count(size)} parameters")
    for i, (n, ready) in enumerate(conv5_fc3_buckets(size)):
        print(f"bucket {i}: {n} bytes ({n / 1e6:.2f} MB), ready after {ready * 100:.2f} % of backward")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("fit")
    p.add_argument("records")
    p.add_argument("--output")
    p.set_defaults(func=cmd_fit)
    p = sub.add_parser("calibrate")
    p.add_argument("log")
    p.add_argument("tsv")
    p.add_argument("--profile", help="log of a --profiler run (default: LOG)")
    p.add_argument("--busy_log", help="log of the same run at 2 ranks on one node (busy factor)")
    p.add_argument("--busy_tsv", help="its training.tsv")
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--input_size", required=True)
    p.add_argument("--output")
    p.set_defaults(func=cmd_calibrate)
    p = sub.add_parser("check")
    p.add_argument("--calibration", required=True)
    p.add_argument("--fits", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--train", type=int, required=True)
    p.add_argument("--valid", type=int, required=True)
    p.add_argument("--batch", type=int, required=True)
    p.add_argument("--input_size", required=True)
    p.add_argument("--threads", type=int, default=1, help="LibTorch threads per rank of the runs")
    p.add_argument("--cores", type=int, default=os.cpu_count() or 1,
                   help="cores of the machine that ran them (the emulated nodes have half each)")
    p.add_argument("--output")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("table")
    p.add_argument("--calibration")
    p.add_argument("--fits")
    p.add_argument("--train", type=int, default=800)
    p.add_argument("--valid", type=int, default=200)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--input_size", default="169x208x179")
    p.add_argument("--threshold", type=float, default=0.8)
    p.add_argument("--cpu_ranks_per_node", type=int, default=2)
    p.add_argument("--cpu_cores_per_node", type=int,
                   help="cores of a CPU node (default: one per rank, as measured here; more leave "
                        "cores to the reduction threads, which then overlap backward)")
    p.add_argument("--cpu_inter", choices=("ib", "tcp"), default="ib",
                   help="between CPU nodes: documented InfiniBand NDR, or the TCP fitted between "
                        "the emulated nodes (veth on one host: its alpha is not a network's)")
    p.add_argument("--gpu_checkpoint", type=float,
                   help="seconds per epoch of rank 0's checkpoint on GPU nodes (default: the rate "
                        "measured here, scaled to the model's size)")
    p.set_defaults(func=cmd_table)
    p = sub.add_parser("buckets")
    p.add_argument("--input_size", default="169x208x179")
    p.set_defaults(func=cmd_buckets)
    args = ap.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    sys.exit(main())
