"""Make the MNIST sample bundled in chainrule/_data/mnist.

Draws 10,000 training and 2,000 test images uniformly at random (seed 0, kept in their
original order) from the full MNIST IDX files and writes them as the four standard gzipped
IDX files, byte-for-byte reproducibly (gzip mtime 0).

    python scripts/make_mnist_sample.py [--src ../shared/data/mnist] [--dst chainrule/_data/mnist]
"""

from __future__ import annotations

import argparse
import gzip
import os
import struct

import numpy as np

from chainrule.vision.datasets.utils import read_idx

SIZES = {"train": 10_000, "t10k": 2_000}


def write_idx_gz(path: str, array: np.ndarray) -> None:
    """Write a uint8 array as a gzipped IDX file (magic 0x0000 08 <rank>, big-endian sizes)."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9,
                                                mtime=0, filename="") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main() -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", default=os.path.join(here, "..", "..", "shared", "data", "mnist"))
    parser.add_argument("--dst", default=os.path.join(here, "..", "chainrule", "_data", "mnist"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.dst, exist_ok=True)
    for split, n in SIZES.items():
        images = read_idx(os.path.join(args.src, f"{split}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(args.src, f"{split}-labels-idx1-ubyte.gz"))
        keep = np.sort(rng.choice(len(images), size=n, replace=False))
        write_idx_gz(os.path.join(args.dst, f"{split}-images-idx3-ubyte.gz"), images[keep])
        write_idx_gz(os.path.join(args.dst, f"{split}-labels-idx1-ubyte.gz"), labels[keep])
        counts = np.bincount(labels[keep], minlength=10).tolist()
        print(f"{split}: {n} images, per class {counts}")
    total = sum(os.path.getsize(os.path.join(args.dst, f)) for f in os.listdir(args.dst))
    print(f"wrote {args.dst} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
