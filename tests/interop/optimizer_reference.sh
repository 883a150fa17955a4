#!/usr/bin/env bash
# Every --optimizer against torch.optim's class of the same name, on the problem of
# optimizer_trajectories.cpp (30 steps, weight decay, a learning rate lowered half-way): the end
# points agree within 1e-5 (relative to max(1, |value|)).
# Usage: optimizer_reference.sh OPTIMIZER_TRAJECTORIES WORK_DIR
# Exit status: 0 when all agree; 1 on a difference; 77 (skipped) without a Python that has torch.
set -uo pipefail
tool="$1"; work="$2"
rm -rf "$work" && mkdir -p "$work" || exit 1
export PYTHONWARNINGS=ignore
python=""
for candidate in "$HOME/.cache/clinicadl-hpc/clinicadl_venv/bin/python" python3; do
  if "$candidate" -c "import torch" > /dev/null 2>&1; then python="$candidate"; break; fi
done
[ -n "$python" ] || { echo "SKIPPED: no Python with torch (ClinicaDL's venv or python3)"; exit 77; }
"$tool" "$work/ours.json" || { echo "FAIL: $tool"; exit 1; }
"$python" - "$work/ours.json" <<'PY'
import json, sys
import torch

ours = json.load(open(sys.argv[1]))
failures = 0
for name, point in ours.items():
    w = torch.linspace(-1, 1, 12).reshape(3, 4).requires_grad_()
    b = (torch.arange(4, dtype=torch.float32) * 0.1).requires_grad_()
    optimizer = getattr(torch.optim, name)([w, b], lr=0.01, weight_decay=0.01)
    for step in range(1, 31):
        if step == 16:
            for group in optimizer.param_groups:
                group["lr"] = 0.005
        optimizer.zero_grad()
        loss = (w * w * w).sum() * 0.1 + (w - 0.5).pow(2).sum() + torch.sin(b * 2).sum()
        loss.backward()
        optimizer.step()
    worst = 0.0
    for key, tensor in (("w", w), ("b", b)):
        reference = tensor.detach().double().flatten()
        mine = torch.tensor(point[key], dtype=torch.float64)
        error = ((mine - reference).abs() / reference.abs().clamp(min=1)).max().item()
        worst = max(worst, error)
    status = "ok" if worst <= 1e-5 else "FAIL"
    failures += status == "FAIL"
    print(f"{status}: {name} against torch.optim.{name} {torch.__version__}: worst error {worst:.2e}")
sys.exit(1 if failures else 0)
PY
