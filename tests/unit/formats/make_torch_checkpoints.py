#!/usr/bin/env python3
"""Writes checkpoints with Python's torch.save, and their known answers, for pytorch_checkpoint_test.

Usage: make_torch_checkpoints.py OUTPUT_FOLDER

Files written into OUTPUT_FOLDER:
  clinicadl.pth.tar      ClinicaDL's layout {"model": state dict, "epoch": 7, "name": "Conv5_FC3"}
                         of a small nn.Sequential (Conv3d, BatchNorm3d, ReLU, Flatten, Linear)
  state_dict.pt          the same state dict alone (no "model" key)
  protocol4.pt           ClinicaDL's layout pickled with protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL...)
  views.pt               {"model": tensors of every dtype, views with offsets and strides, shared
                         storages, 0-d and empty tensors} (a one-entry dict)
  extra_entries.pt       {"model", "epoch", "name"} plus entries of other types, among them an
                         instance of a class defined here (never needed by the reader)
  custom_in_model.pt     {"model": {"w": instance of that class}}: the reader must refuse it
  cuda_location.pt       clinicadl.pth.tar with its storages' location rewritten to "cuda:0"
  big_endian.pt          clinicadl.pth.tar with a byteorder record saying "big"
  expected.json          for each readable file: epoch, name and every tensor (key, dtype, shape,
                         values as floats; complex ones as (real, imaginary) pairs), in file order;
                         plus a forward pass of the network on a fixed input.
"""
import collections
import json
import os
import sys
import zipfile

import torch


class Custom:
    """A class the C++ reader does not know."""

    def __init__(self):
        self.value = 42


DTYPE_NAMES = {
    torch.float32: "float32",
    torch.float64: "float64",
    torch.float16: "float16",
    torch.bfloat16: "bfloat16",
    torch.int64: "int64",
    torch.int32: "int32",
    torch.int16: "int16",
    torch.int8: "int8",
    torch.uint8: "uint8",
    torch.bool: "bool",
    torch.complex64: "complex64",
}


def describe(state):
    tensors = []
    for key, tensor in state.items():
        values = torch.view_as_real(tensor) if tensor.is_complex() else tensor
        tensors.append({
            "key": key,
            "dtype": DTYPE_NAMES[tensor.dtype],
            "shape": list(tensor.shape),
            "values": [float(v) for v in values.detach().double().flatten().tolist()],
        })
    return tensors


def network():
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv3d(1, 2, 3),
        torch.nn.BatchNorm3d(2),
        torch.nn.ReLU(),
        torch.nn.Flatten(),
        torch.nn.Linear(16, 3),
    )
    net.train()
    with torch.no_grad():
        for _ in range(3):  # running statistics and num_batches_tracked = 3
            net(torch.randn(2, 1, 4, 4, 4))
    net.eval()
    return net


def views():
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) / 4
    long_storage = torch.arange(20, dtype=torch.float64) * 1.5 - 7
    grid = torch.arange(30, dtype=torch.float32).reshape(5, 6) - 10
    state = collections.OrderedDict()
    state["transposed"] = base.t()  # non-contiguous, shares its storage with "base"
    state["base"] = base
    state["slice"] = long_storage[5:11]  # offset 5, saved with its storage of 20
    state["strided"] = grid[1:4, ::2]  # offset 6, strides (6, 2)
    state["expanded"] = torch.tensor([1.0, -2.0, 3.0]).expand(2, 3)  # stride 0
    state["double"] = torch.tensor([[0.1, -1e300], [3.0, 1e-310]], dtype=torch.float64)
    state["flag"] = torch.tensor([True, False, True, True])
    state["half"] = torch.tensor([0.5, -65504.0, 1e-3], dtype=torch.float16)
    state["bfloat16"] = torch.tensor([1.5, -3e38, 7.0], dtype=torch.bfloat16)
    state["int64"] = torch.tensor([-(2**62), 2**40, -1], dtype=torch.int64)
    state["int32"] = torch.tensor([-(2**31), 2**31 - 1], dtype=torch.int32)
    state["int16"] = torch.tensor([-32768, 32767], dtype=torch.int16)
    state["int8"] = torch.tensor([-128, 127, 0], dtype=torch.int8)
    state["uint8"] = torch.tensor([0, 255, 17], dtype=torch.uint8)
    state["complex"] = torch.tensor([1 + 2j, -3.5j], dtype=torch.complex64)
    state["scalar"] = torch.tensor(3.25)
    state["empty"] = torch.zeros(0, 3)
    return state


def rewrite(source, target, change):
    """Copies the zip `source` to `target`, passing each record's (name, bytes) through change."""
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(target, "w") as zout:
        for info in zin.infolist():
            name, data = change(info.filename, zin.read(info.filename))
            zout.writestr(name, data)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    path = lambda name: os.path.join(out, name)
    expected = {}

    net = network()
    state = net.state_dict()
    clinicadl = {"model": state, "epoch": 7, "name": "Conv5_FC3"}
    torch.save(clinicadl, path("clinicadl.pth.tar"))
    expected["clinicadl.pth.tar"] = {"epoch": 7, "name": "Conv5_FC3", "tensors": describe(state)}
    image = (torch.arange(60, dtype=torch.float32) * 0.5).reshape(1, 3, 4, 5)  # a ClinicaDL .pt
    torch.save(image, path("image.pt"))
    expected["image.pt"] = {"tensors": describe({"image": image})}
    torch.save(image.transpose(1, 3), path("image_view.pt"))  # a strided view of its storage
    expected["image_view.pt"] = {"tensors": describe({"image": image.transpose(1, 3)})}
    try:  # torch >= 2.5 can skip the CRC-32s
        from torch.utils.serialization import config as serialization_config
        save_config = serialization_config.save
    except ImportError:
        save_config = None
    if save_config is not None and hasattr(save_config, "compute_crc32"):
        save_config.compute_crc32 = False  # records carry a CRC-32 of 0
        torch.save(clinicadl, path("no_crc.pt"))
        save_config.compute_crc32 = True
        expected["no_crc.pt"] = expected["clinicadl.pth.tar"]
    torch.save(state, path("state_dict.pt"))
    expected["state_dict.pt"] = {"epoch": None, "name": None, "tensors": describe(state)}
    torch.save(clinicadl, path("protocol4.pt"), pickle_protocol=4)
    expected["protocol4.pt"] = expected["clinicadl.pth.tar"]

    view_state = views()
    torch.save({"model": view_state}, path("views.pt"))
    expected["views.pt"] = {"epoch": None, "name": None, "tensors": describe(view_state)}

    small = collections.OrderedDict(w=torch.tensor([1.0, 2.0]), b=torch.tensor(0.5))
    torch.save({
        "model": small,
        "epoch": 2**40,
        "name": "Conv4_FC3",
        "optimizer": {"lr": 0.1, "betas": (0.9, 0.999), "state": {}, "steps": [1, 2, 3]},
        "history": [1.5, None, True, "text", b"raw", -3, frozenset([1])],
        "custom": Custom(),
    }, path("extra_entries.pt"))
    expected["extra_entries.pt"] = {"epoch": 2**40, "name": "Conv4_FC3", "tensors": describe(small)}
    torch.save({"model": {"w": Custom()}}, path("custom_in_model.pt"))

    def on_cuda(name, data):
        if name.endswith("data.pkl"):
            cpu, cuda = b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0"
            assert cpu in data
            data = data.replace(cpu, cuda)
        return name, data

    rewrite(path("clinicadl.pth.tar"), path("cuda_location.pt"), on_cuda)
    expected["cuda_location.pt"] = expected["clinicadl.pth.tar"]

    def big_endian(name, data):
        return name, (b"big" if name.endswith("/byteorder") else data)

    rewrite(path("clinicadl.pth.tar"), path("big_endian.pt"), big_endian)

    torch.manual_seed(1)
    x = torch.randn(1, 1, 4, 4, 4)
    with torch.no_grad():
        y = net(x)
    expected["forward"] = {
        "input": x.flatten().tolist(),
        "output": y.flatten().tolist(),
    }
    with open(path("expected.json"), "w") as stream:
        json.dump(expected, stream)


if __name__ == "__main__":
    main()
