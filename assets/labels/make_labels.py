#!/usr/bin/python3
"""Writes the class-name lists beside this script.

fashion_mnist.txt: the 10 Fashion-MNIST classes in label order.
imagenet.txt: the 1000 ImageNet-1k classes in torchvision's order (shipped with torchvision, no
download), used by rmvk for 1000-class models without labels in their metadata.
Run: /usr/bin/python3 assets/labels/make_labels.py
"""
import os

from torchvision.models import ResNet18_Weights

HERE = os.path.dirname(os.path.abspath(__file__))
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def write(name, labels):
    with open(os.path.join(HERE, name), "w") as f:
        f.write("\n".join(labels) + "\n")


categories = ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
assert len(categories) == 1000
write("imagenet.txt", categories)
write("fashion_mnist.txt", FASHION)
