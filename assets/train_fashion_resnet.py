#!/usr/bin/python3
"""Train the bundled demo model: a small torchvision-style ResNet on Fashion-MNIST.

Run:  /usr/bin/python3 assets/train_fashion_resnet.py [--epochs 15] [--widths 16,32,64]
Data: the Debian package dataset-fashion-mnist (/usr/share/datasets/fashion-mnist), read directly.
Writes assets/fashion_resnet.onnx, assets/fashion_resnet_first500.txt and prints a summary
that goes into assets/TRAINING.md.
"""
import argparse
import gzip
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock

DATA_DIR = "/usr/share/datasets/fashion-mnist"
ASSET_DIR = os.path.dirname(os.path.abspath(__file__))
MEAN, STD = 0.2860, 0.3530
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path, magic, ndim):
    with gzip.open(path, "rb") as f:
        data = f.read()
    got = int.from_bytes(data[0:4], "big")
    if got != magic:
        raise SystemExit(f"{path}: bad IDX magic {got:#x}")
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    arr = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    return arr.reshape(dims)


def load_split(prefix):
    images = read_idx(os.path.join(DATA_DIR, f"{prefix}-images-idx3-ubyte.gz"), 0x803, 3)
    labels = read_idx(os.path.join(DATA_DIR, f"{prefix}-labels-idx1-ubyte.gz"), 0x801, 1)
    return images, labels


def to_input(images_u8):
    """uint8 (N,28,28) -> normalized float (N,1,28,28); the same rule rmvk uses."""
    x = torch.from_numpy(images_u8.astype(np.float32) / 255.0).unsqueeze(1)
    return (x - MEAN) / STD


class FashionResNet(nn.Module):
    """torchvision ResNet layout with a stem adapted to 1x28x28 (3x3 conv, no max pool)."""

    def __init__(self, widths=(16, 32, 64), blocks=(1, 1, 1), num_classes=10):
        super().__init__()
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(1, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = self._make_layer(widths[0], blocks[0], 1)
        self.layer2 = self._make_layer(widths[1], blocks[1], 2)
        self.layer3 = self._make_layer(widths[2], blocks[2], 2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[2], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def _make_layer(self, planes, count, stride):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, count)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def augment(x, gen):
    """Random crop with 2-pixel zero padding (in normalized space: pad with the value of a black
    pixel) and random horizontal flip, vectorized over the batch."""
    n = x.shape[0]
    black = (0.0 - MEAN) / STD
    padded = F.pad(x, (2, 2, 2, 2), value=black)
    dy = torch.randint(0, 5, (n,), generator=gen)
    dx = torch.randint(0, 5, (n,), generator=gen)
    ar = torch.arange(28)
    iy = (dy[:, None] + ar[None, :])[:, :, None]
    ix = (dx[:, None] + ar[None, :])[:, None, :]
    out = padded[torch.arange(n)[:, None, None], 0, iy, ix].unsqueeze(1)
    flip = torch.rand(n, generator=gen) < 0.5
    return torch.where(flip[:, None, None, None], out.flip(3), out)


@torch.no_grad()
def predict(model, x, batch=500):
    model.eval()
    return torch.cat([model(x[i:i + batch]) for i in range(0, len(x), batch)])


def set_metadata(proto, test_accuracy, extra=None):
    """The metadata rmvk reads from a bundled model (preprocessing, labels, dataset, accuracy)."""
    meta = {
        "rmvk.mean": f"{MEAN:.4f}", "rmvk.std": f"{STD:.4f}", "rmvk.input_size": "28x28",
        "rmvk.grayscale": "1", "rmvk.resize_shorter": "0", "rmvk.labels": "\n".join(LABELS),
        "rmvk.dataset": "fashion-mnist", "rmvk.test_accuracy": f"{test_accuracy:.4f}",
        **(extra or {}),
    }
    del proto.metadata_props[:]
    for k, v in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = k, v


def write_first500(path, logits, labels, accuracy):
    """PyTorch's prediction and top-1/top-2 margin per first-500 test image (tests/eval_test.cpp
    compares rmvk's with these); returns the accuracy on those 500."""
    pred = logits.argmax(1)
    top2 = logits[:500].topk(2, dim=1).values
    first = pred[:500] == labels[:500]
    with open(path, "w") as f:
        f.write(f"# PyTorch predictions for the first 500 Fashion-MNIST test images\n")
        f.write(f"# accuracy_first500 {first.float().mean().item():.4f}\n")
        f.write(f"# accuracy_all {accuracy:.4f}\n")
        f.write("# index label prediction top1_minus_top2_logit\n")
        for i in range(500):
            f.write(f"{i} {labels[i].item()} {pred[i].item()} "
                    f"{(top2[i, 0] - top2[i, 1]).item():.5f}\n")
    return first.float().mean().item()


def export(model, path, accuracy):
    import onnx
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    torch.onnx.export(model, dummy, path, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    proto = onnx.load(path)
    ops = [n.op_type for n in proto.graph.node]
    assert "BatchNormalization" in ops, "export folded BatchNormalization away"
    assert all(len(n.output) == 1 for n in proto.graph.node if n.op_type == "BatchNormalization"), \
        "export produced training-mode BatchNormalization outputs"
    set_metadata(proto, accuracy)
    proto.doc_string = "Fashion-MNIST ResNet for rmvk (assets/train_fashion_resnet.py)"
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    return ops


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--widths", default="16,32,64")
    ap.add_argument("--blocks", default="1,1,1")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--bench", type=int, default=0, help="only time this many batches")
    ap.add_argument("--checkpoint", default="", help="save/load state_dict here")
    ap.add_argument("--export-only", action="store_true")
    ap.add_argument("--out", default=os.path.join(ASSET_DIR, "fashion_resnet.onnx"))
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    gen = torch.Generator().manual_seed(1)

    train_img, train_lab = load_split("train")
    test_img, test_lab = load_split("t10k")
    xtr, ytr = to_input(train_img), torch.from_numpy(train_lab.astype(np.int64))
    xte, yte = to_input(test_img), torch.from_numpy(test_lab.astype(np.int64))

    widths = tuple(int(v) for v in args.widths.split(","))
    blocks = tuple(int(v) for v in args.blocks.split(","))
    model = FashionResNet(widths, blocks)
    steps_per_epoch = (len(xtr) + args.batch - 1) // args.batch
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, nesterov=True,
                          weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)

    start = time.time()
    if args.export_only:
        model.load_state_dict(torch.load(args.checkpoint))
    else:
        for epoch in range(args.epochs):
            model.train()
            perm = torch.randperm(len(xtr), generator=gen)
            t0 = time.time()
            total = 0.0
            for step in range(steps_per_epoch):
                idx = perm[step * args.batch:(step + 1) * args.batch]
                xb, yb = augment(xtr[idx], gen), ytr[idx]
                loss = loss_fn(model(xb), yb)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                total += loss.item()
                if args.bench and step + 1 == args.bench:
                    dt = time.time() - t0
                    print(f"{args.bench} batches: {dt:.1f}s -> ~{dt / args.bench * steps_per_epoch:.0f}s/epoch")
                    return
            acc = (predict(model, xte).argmax(1) == yte).float().mean().item()
            print(f"epoch {epoch + 1}/{args.epochs} loss {total / steps_per_epoch:.4f} "
                  f"test acc {acc * 100:.2f}% ({time.time() - t0:.0f}s)", flush=True)
            if args.checkpoint:
                torch.save(model.state_dict(), args.checkpoint)
    train_s = time.time() - start

    logits = predict(model, xte)
    pred = logits.argmax(1)
    accuracy = (pred == yte).float().mean().item()
    ops = export(model, args.out, accuracy)

    # Per-image reference for the first 500 test images: rmvk's eval must agree with these.
    first500 = write_first500(os.path.join(ASSET_DIR, "fashion_resnet_first500.txt"), logits, yte,
                              accuracy)

    params = sum(p.numel() for p in model.parameters())
    print(f"SUMMARY widths={widths} blocks={blocks} epochs={args.epochs} batch={args.batch} "
          f"lr={args.lr} params={params} train_time={train_s:.0f}s test_acc={accuracy * 100:.2f}% "
          f"first500_acc={first500 * 100:.2f}% "
          f"size={os.path.getsize(args.out)} bytes ops={sorted(set(ops))}")


if __name__ == "__main__":
    main()
