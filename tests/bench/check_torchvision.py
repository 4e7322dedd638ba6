#!/usr/bin/python3
"""End-to-end check against real torchvision models (not in CI: needs Debian's python3-torch and
minutes of CPU time).

For each model: random init, randomized BN statistics and affine parameters, eval mode; export
to ONNX in the listed form; PyTorch's output is the reference. Then
`rmvk run MODEL --input X.npy --output Y.npy --device cpu --graph residual|plain` runs rmvk's
CPU reference (or, with --device 0, rmvk's Vulkan kernels on that device) on the residual graph
and on the RM-converted plain graph, and the script prints max|Δ| / max|ref| for each with
PASS/FAIL at 1e-4. Exit status 1 when anything fails.

--opsets 7,8,18,21 exports each model at those opsets instead of its own: below 9 by ONNX's
version converter from an opset-9 export, above 17 by declaring an opset-17 export at that
opset (tests/fixtures/make_fixtures.py's to_opset, as for the opset fixtures). --convert also
runs `rmvk convert` on each export (the plain model is written at the same opset and checked),
and with --ort NODE_PATH (a folder holding node_modules/onnxruntime-node) runs that plain model
in ONNX Runtime (tests/bench/ort_compare.js) against PyTorch's output.

Usage: /usr/bin/python3 tests/bench/check_torchvision.py RMVK_BINARY [--models a,b] [--graphs residual,plain]
       [--device cpu|INDEX|NAME] [--work DIR] [--opsets 7,8,...] [--convert] [--ort NODE_PATH]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
from make_fixtures import to_opset  # noqa: E402

TOLERANCE = 1e-4

# name: (opset, keep_bn, initializers_as_inputs, batch, dynamic_batch, height, width)
FORMS = {
    "resnet18": (13, False, False, 1, False, 224, 224),
    "resnet34": (9, True, True, 2, False, 160, 192),
    "resnet50": (17, True, False, 1, True, 224, 224),
    "resnet101": (11, False, False, 1, False, 193, 225),
    "resnet152": (13, False, True, 1, False, 224, 224),
    "wide_resnet50_2": (15, True, False, 2, False, 128, 160),
    "resnext50_32x4d": (12, False, False, 1, True, 161, 224),
    # Families with blocks whose input can be negative (no activation after the Add),
    # depthwise convs, ReLU6 (Clip) and group widths that do not divide the block input.
    "mobilenet_v2": (13, False, False, 1, False, 224, 224),
    "mnasnet1_0": (11, True, False, 2, False, 161, 193),
    "regnet_x_400mf": (17, True, False, 1, False, 224, 224),
    "regnet_x_1_6gf": (14, False, False, 2, False, 176, 208),
    "preact_resnet18": (13, True, False, 2, False, 160, 192),
}


def preact_resnet18():
    """A pre-activation ResNet-18 (BN-ReLU inside each block, no ReLU after the Add; the
    projection reads relu(bn1(x))), tests/fixtures/make_rm_family_fixtures.py's at width 64."""
    from make_rm_family_fixtures import preact_resnet18 as make
    return make(64)


def make_model(name):
    if name == "preact_resnet18":
        return preact_resnet18()
    return getattr(torchvision.models, name)(weights=None)


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
            m.weight.data.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.2)


def export(name, work, target=None):
    opset, keep_bn, init_inputs, batch, dynamic, h, w = FORMS[name]
    if target:
        opset = 9 if target < 9 else 17 if target > 17 else target
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    model = make_model(name)
    randomize_bn(model, gen)
    model.eval()
    x = torch.randn(batch, 3, h, w, generator=gen)
    with torch.no_grad():
        y = model(x)
    stem = name + (f"_op{target}" if target else "")
    path = os.path.join(work, stem + ".onnx")
    torch.onnx.export(
        model, x, path, input_names=["input"], output_names=["logits"], opset_version=opset,
        training=torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL,
        keep_initializers_as_inputs=init_inputs,
        dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}} if dynamic else None)
    if target and target != opset:
        to_opset(path, target)
        opset = f"{target} (from {opset})"
        init_inputs = init_inputs or target == 7  # IR 3 lists initializers as inputs
    np.save(os.path.join(work, name + ".input.npy"), x.numpy())
    np.save(os.path.join(work, name + ".ref.npy"), y.numpy())
    form = (f"opset {opset}, BN {'kept' if keep_bn else 'fused'}, "
            f"initializers {'as inputs' if init_inputs else 'apart'}, batch {batch}"
            f"{' (dynamic)' if dynamic else ''}, {h}x{w}")
    return path, stem, form


def convert(args, path, stem, work, name):
    """rmvk convert, then the plain model in ONNX Runtime; returns the number of failures."""
    plain = os.path.join(work, stem + ".plain.onnx")
    proc = subprocess.run([args.rmvk, "convert", path, "-o", plain],
                          capture_output=True, text=True)
    lines = (proc.stdout + proc.stderr).strip().splitlines()
    checked = [ln for ln in lines if ln.startswith(("check:", "wrote", "converted", "error"))]
    print("  convert: " + ("ok" if proc.returncode == 0 else f"FAIL ({proc.returncode})") + "; " +
          " | ".join(checked), flush=True)
    if proc.returncode != 0:
        return 1
    # Every residual block must convert ("converted N of N residual blocks").
    for ln in lines:
        if ln.startswith("converted "):
            words = ln.split()
            if words[1] != words[3]:
                print("  convert: FAIL (blocks kept residual)")
                return 1
    if not args.ort:
        return 0
    env = dict(os.environ, NODE_PATH=os.path.join(args.ort, "node_modules"))
    ort = subprocess.run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "ort_compare.js"),
                          plain, os.path.join(work, name + ".input.npy"), os.path.join(work, name + ".ref.npy")],
                         capture_output=True, text=True, env=env)
    print("  onnxruntime: " + (ort.stdout + ort.stderr).strip().splitlines()[-1], flush=True)
    return ort.returncode != 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rmvk")
    ap.add_argument("--models", default=",".join(FORMS))
    ap.add_argument("--graphs", default="residual,plain")
    ap.add_argument("--device", default="cpu", help="cpu (the CPU reference) or a Vulkan device index/name")
    ap.add_argument("--work", default=None, help="keep exported files here (default: a temp dir)")
    ap.add_argument("--opsets", default="", help="export at these opsets instead (e.g. 7,8,18,21)")
    ap.add_argument("--convert", action="store_true", help="also run rmvk convert on each export")
    ap.add_argument("--ort", default=None, help="NODE_PATH with onnxruntime-node: run the plain model in it")
    args = ap.parse_args()
    targets = [int(o) for o in args.opsets.split(",") if o] or [None]
    work = args.work or tempfile.mkdtemp(prefix="rmvk_torchvision_")
    os.makedirs(work, exist_ok=True)
    failures = 0
    print(f"device: {args.device}")
    print(f"{'model':18} {'graph':8} {'max|d|':>10} {'max|ref|':>10} {'ratio':>10}  result  (time)")
    for name in args.models.split(","):
        if name not in FORMS:
            sys.exit(f"unknown model '{name}' (known: {', '.join(FORMS)})")
        for target in targets:
            path, stem, form = export(name, work, target)
            print(f"# {name}: {form}", flush=True)
            ref = np.load(os.path.join(work, name + ".ref.npy"))
            if args.convert:
                failures += convert(args, path, stem, work, name)
            for graph in args.graphs.split(","):
                out = os.path.join(work, f"{stem}.{graph}.npy")
                start = time.time()
                proc = subprocess.run([args.rmvk, "run", path, "--input", os.path.join(work, name + ".input.npy"),
                                       "--output", out, "--graph", graph, "--device", args.device],
                                      capture_output=True, text=True)
                seconds = time.time() - start
                if proc.returncode != 0:
                    failures += 1
                    print(f"{stem:18} {graph:8} rmvk failed ({proc.returncode}): "
                          f"{(proc.stderr or proc.stdout).strip().splitlines()[-1:]}  FAIL")
                    continue
                y = np.load(out)
                if y.shape != ref.shape:
                    failures += 1
                    print(f"{stem:18} {graph:8} shape {y.shape} != {ref.shape}  FAIL")
                    continue
                diff = float(np.abs(y.astype(np.float64) - ref).max())
                scale = float(np.abs(ref).max())
                ratio = diff / scale
                ok = ratio <= TOLERANCE
                failures += not ok
                print(f"{stem:18} {graph:8} {diff:10.3e} {scale:10.3e} {ratio:10.3e}  "
                      f"{'PASS' if ok else 'FAIL'}    ({seconds:.1f} s)", flush=True)
    print(f"work dir: {work}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
