#!/usr/bin/python3
"""Writes assets/samples/<class>_<k>.png: the first 3 Fashion-MNIST test images of each class,
as 28x28 8-bit grayscale PNGs (exactly the dataset's pixels).
Run: /usr/bin/python3 assets/make_samples.py   (needs the Debian package dataset-fashion-mnist)
"""
import gzip
import os
import re

import numpy as np
from PIL import Image

DATA_DIR = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
PER_CLASS = 3


def read_idx(path, magic, ndim):
    with gzip.open(path, "rb") as f:
        data = f.read()
    assert int.from_bytes(data[0:4], "big") == magic, f"{path}: bad IDX magic"
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def file_stem(label):
    """"T-shirt/top" -> "tshirt_top", "Ankle boot" -> "ankle_boot"."""
    s = label.lower().replace("-", "")
    return re.sub(r"[^a-z0-9]+", "_", s).strip("_")


images = read_idx(os.path.join(DATA_DIR, "t10k-images-idx3-ubyte.gz"), 0x803, 3)
labels = read_idx(os.path.join(DATA_DIR, "t10k-labels-idx1-ubyte.gz"), 0x801, 1)
out_dir = os.path.join(HERE, "samples")
os.makedirs(out_dir, exist_ok=True)
for cls, name in enumerate(LABELS):
    indices = np.nonzero(labels == cls)[0][:PER_CLASS]
    for k, index in enumerate(indices):
        path = os.path.join(out_dir, f"{file_stem(name)}_{k}.png")
        Image.fromarray(images[index], mode="L").save(path)
        print(f"{os.path.relpath(path, HERE)}: test image {index}")
