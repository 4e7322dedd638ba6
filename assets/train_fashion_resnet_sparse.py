#!/usr/bin/python3
"""Train the sparsity demo model: the Fashion-MNIST ResNet with learnable per-channel scales.

Follows the reference pruning recipe (RMNet's rmnet_pruning.py): every block has a per-channel
scale after its first BN (block-internal channels), one on the shortcut (the channels RM
reserves) and one on the block output (after the residual Add, before its ReLU); the stem has one
after its BN. Training adds an L1 subgradient sr*w*sign(s) to those scales, where w is what the
channel costs in the plain network (its multiply-accumulates there, relative to the mean over all
scales), and zeroes every scale with |s| <= threshold for good, so many channels end up exactly
zero and `rmvk prune` can remove them exactly. The last --finetune epochs drop the L1 term (the
dead scales stay zero) so that the surviving channels recover what the penalty cost.

The last 5,000 training images are held out as the validation split that `rmvk prune --max-drop`
searches on; the test set is only reported.

Run:  /usr/bin/python3 assets/train_fashion_resnet_sparse.py [--epochs 18] [--widths 24,48,96]
Writes assets/fashion_resnet_sparse.onnx (scales folded into BN gamma/beta where they can be, and
a per-channel Mul by a constant on identity shortcuts) and fashion_resnet_sparse_first500.txt.
"""
import argparse
import os
import random
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from train_fashion_resnet import (ASSET_DIR, augment, load_split, predict, set_metadata, to_input,
                                  write_first500)

VALIDATION = 5000


class Scale(nn.Module):
    """A learnable per-channel scale, initialised to 1 (the recipe's depthwise 1x1 mask)."""

    def __init__(self, channels):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))

    def forward(self, x):
        return x * self.weight.view(1, -1, 1, 1)


class SparseBlock(nn.Module):
    """torchvision's BasicBlock with the three scales of the recipe."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.scale1 = Scale(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                            nn.BatchNorm2d(cout))
        self.scale_shortcut = Scale(cout)
        self.scale_out = Scale(cout)

    def forward(self, x):
        out = F.relu(self.scale1(self.bn1(self.conv1(x))))
        out = self.bn2(self.conv2(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return F.relu(self.scale_out(out + self.scale_shortcut(shortcut)))


class SparseFashionResNet(nn.Module):
    def __init__(self, widths, num_classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, widths[0], 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        blocks, cin = [], widths[0]
        for i, w in enumerate(widths):
            blocks.append(SparseBlock(cin, w, 1 if i == 0 else 2))
            cin = w
        self.blocks = nn.Sequential(*blocks)
        self.scale_stem = Scale(widths[0])
        self.fc = nn.Linear(widths[-1], num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        x = self.blocks(F.relu(self.scale_stem(self.bn1(self.conv1(x)))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    def scales(self):
        return [m.weight for m in self.modules() if isinstance(m, Scale)]

    def plain_costs(self, size=28):
        """Per scale (in scales() order), what one of its channels costs in the plain network.

        The multiply-accumulates per image that go with the channel once RM has run: its conv row,
        the columns that read it, and for a shortcut channel the reserved copy (a Dirac row in the
        first conv and an identity column in the second, dense).
        """
        costs = {}
        hw = size * size
        stem_cin = self.conv1.in_channels
        costs[self.scale_stem] = 9 * stem_cin * hw
        blocks = list(self.blocks)
        for k, b in enumerate(blocks):
            cin, c = b.conv1.in_channels, b.conv1.out_channels
            hw_in, hw = hw, hw // (b.conv1.stride[0] ** 2)
            if k == 0:
                costs[self.scale_stem] += 9 * c * hw  # the stem channel is a column of conv1
            costs[b.scale1] = 9 * cin * hw + 9 * c * hw
            costs[b.scale_shortcut] = 9 * cin * hw + 9 * c * hw
            out = 9 * c * hw + (cin * hw if b.downsample is not None else 0)
            if k + 1 < len(blocks):
                nb = blocks[k + 1]
                nhw = hw // (nb.conv1.stride[0] ** 2)
                out += 9 * nb.conv1.out_channels * nhw * 2  # next conv1 column and its reserved row
            else:
                out += self.fc.out_features
            costs[b.scale_out] = out
        return [torch.full_like(s, float(costs[m])) for m, s in
                ((m, m.weight) for m in self.modules() if isinstance(m, Scale))]


class ConstMul(nn.Module):
    """x * c with c a [C,1,1] constant: what a folded shortcut scale exports as."""

    def __init__(self, c):
        super().__init__()
        self.register_buffer("c", c.view(-1, 1, 1).clone())

    def forward(self, x):
        return x * self.c


class DeployBlock(nn.Module):
    """A SparseBlock with its scales folded: BN gamma/beta where a BN precedes, a Mul otherwise."""

    def __init__(self, b):
        super().__init__()
        s1, ssc, sout = (s.weight.detach() for s in (b.scale1, b.scale_shortcut, b.scale_out))
        self.conv1, self.bn1 = b.conv1, scaled_bn(b.bn1, s1)
        self.conv2, self.bn2 = b.conv2, scaled_bn(b.bn2, sout)
        if b.downsample is None:
            self.shortcut = ConstMul(ssc * sout)
        else:
            self.shortcut = nn.Sequential(b.downsample[0], scaled_bn(b.downsample[1], ssc * sout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def scaled_bn(bn, s):
    """s * BN(x) as one BN: gamma and beta times s (exact, also for s = 0 or s < 0)."""
    out = nn.BatchNorm2d(bn.num_features, eps=bn.eps)
    out.load_state_dict(bn.state_dict())
    with torch.no_grad():
        out.weight.mul_(s)
        out.bias.mul_(s)
    return out


class DeployNet(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.conv1, self.fc = net.conv1, net.fc
        self.bn1 = scaled_bn(net.bn1, net.scale_stem.weight.detach())
        self.blocks = nn.Sequential(*[DeployBlock(b) for b in net.blocks])

    def forward(self, x):
        x = self.blocks(F.relu(self.bn1(self.conv1(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def export(model, path, test_accuracy, val_accuracy):
    import onnx
    model.eval()
    torch.onnx.export(model, torch.zeros(1, 1, 28, 28), path, opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                      input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    proto = onnx.load(path)
    ops = sorted({n.op_type for n in proto.graph.node})
    assert "BatchNormalization" in ops and "Mul" in ops, ops
    set_metadata(proto, test_accuracy, {
        "rmvk.validation": f"last {VALIDATION} training images",
        "rmvk.validation_accuracy": f"{val_accuracy:.4f}",
    })
    proto.doc_string = "Sparsity-trained Fashion-MNIST ResNet for rmvk " \
                       "(assets/train_fashion_resnet_sparse.py)"
    onnx.checker.check_model(proto)
    onnx.save(proto, path)
    return ops


def accuracy(model, x, y):
    return (predict(model, x).argmax(1) == y).float().mean().item()


def scale_summary(model):
    values = torch.cat([s.detach() for s in model.scales()])
    costs = torch.cat(model.plain_costs())
    live = (costs * (values != 0)).sum() / costs.sum()
    return (f"{int((values == 0).sum())}/{values.numel()} scales zero, "
            f"{live * 100:.0f}% of the plain cost live")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--widths", default="24,48,96")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--sr", type=float, default=1.2e-3,
                    help="L1 strength on the scales (times each channel's relative plain cost)")
    ap.add_argument("--finetune", type=int, default=6,
                    help="the last this many epochs train without the L1 term")
    ap.add_argument("--threshold", type=float, default=1e-2,
                    help="a scale with |s| <= this is set to zero for good")
    ap.add_argument("--seed", type=int, default=7,
                    help="seeds the initial weights (the shuffling and augmentation use seed + 1)")
    ap.add_argument("--checkpoint", default="", help="save the training state here every epoch")
    ap.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    ap.add_argument("--out", default=os.path.join(ASSET_DIR, "fashion_resnet_sparse.onnx"))
    args = ap.parse_args()

    torch.set_num_threads(2)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed + 1)

    train_img, train_lab = load_split("train")
    test_img, test_lab = load_split("t10k")
    x_all, y_all = to_input(train_img), torch.from_numpy(train_lab.astype(np.int64))
    xtr, ytr = x_all[:-VALIDATION], y_all[:-VALIDATION]
    xva, yva = x_all[-VALIDATION:], y_all[-VALIDATION:]
    xte, yte = to_input(test_img), torch.from_numpy(test_lab.astype(np.int64))

    widths = tuple(int(v) for v in args.widths.split(","))
    model = SparseFashionResNet(widths)
    scales = model.scales()
    scale_ids = {id(p) for p in scales}
    others = [p for p in model.parameters() if id(p) not in scale_ids]
    steps_per_epoch = (len(xtr) + args.batch - 1) // args.batch
    opt = torch.optim.SGD([{"params": others, "weight_decay": 5e-4},
                           {"params": scales, "weight_decay": 0.0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    dead = [torch.zeros_like(s, dtype=torch.bool) for s in scales]
    costs = model.plain_costs()
    mean_cost = torch.cat(costs).mean()
    strength = [args.sr * c / mean_cost for c in costs]

    first_epoch, train_s = 0, 0.0
    if args.resume:
        state = torch.load(args.checkpoint)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        gen.set_state(state["gen"])
        dead = state["dead"]
        first_epoch, train_s = state["epoch"], state["train_s"]

    for epoch in range(first_epoch, args.epochs):
        model.train()
        perm = torch.randperm(len(xtr), generator=gen)
        t0 = time.time()
        total = 0.0
        sparse = epoch < args.epochs - args.finetune
        for step in range(steps_per_epoch):
            idx = perm[step * args.batch:(step + 1) * args.batch]
            loss = loss_fn(model(augment(xtr[idx], gen)), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            with torch.no_grad():
                for s, d, sr in zip(scales, dead, strength):
                    if sparse:
                        s.grad.add_(sr * torch.sign(s))
                    s.grad[d] = 0
            opt.step()
            sched.step()
            with torch.no_grad():
                for s, d in zip(scales, dead):
                    d |= s.abs() <= args.threshold
                    s[d] = 0
            total += loss.item()
        train_s += time.time() - t0
        val = accuracy(model, xva, yva)
        print(f"epoch {epoch + 1}/{args.epochs} loss {total / steps_per_epoch:.4f} "
              f"val acc {val * 100:.2f}% {scale_summary(model)} ({time.time() - t0:.0f}s)",
              flush=True)
        if args.checkpoint:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "gen": gen.get_state(), "dead": dead,
                        "epoch": epoch + 1, "train_s": train_s}, args.checkpoint)

    deploy = DeployNet(model).eval()
    # Folding must not change the function (up to float rounding).
    with torch.no_grad():
        probe = xte[:256]
        diff = (predict(model, probe) - predict(deploy, probe)).abs().max().item()
    assert diff < 1e-4, f"folding the scales changed the logits by {diff}"

    logits = predict(deploy, xte)
    pred = logits.argmax(1)
    test_acc = (pred == yte).float().mean().item()
    val_acc = accuracy(deploy, xva, yva)
    ops = export(deploy, args.out, test_acc, val_acc)

    stem = os.path.splitext(args.out)[0]
    first500 = write_first500(stem + "_first500.txt", logits, yte, test_acc)

    params = sum(p.numel() for p in deploy.parameters())
    print(f"SUMMARY widths={widths} epochs={args.epochs} sr={args.sr} finetune={args.finetune} "
          f"threshold={args.threshold} seed={args.seed} "
          f"params={params} train_time={train_s:.0f}s val_acc={val_acc * 100:.2f}% "
          f"test_acc={test_acc * 100:.2f}% first500_acc={first500 * 100:.2f}% "
          f"{scale_summary(model)} fold_diff={diff:.2e} size={os.path.getsize(args.out)} bytes "
          f"ops={ops}")


if __name__ == "__main__":
    main()
