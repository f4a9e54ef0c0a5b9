"""Vision datasets: IDX parsing, MNIST layouts, the bundled sample, downloads, CIFAR binary."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.server
import io
import os
import struct
import subprocess
import sys
import tarfile
import threading

import numpy as np
import pytest

import chainrule
from chainrule.utils.data import DataLoader, default_collate
from chainrule.vision import datasets
from chainrule.vision import transforms as T
from chainrule.vision.datasets import utils as dutils
from chainrule.vision.datasets.mnist import read_image_file, read_label_file
from chainrule.vision.transforms import functional as F

FULL_MNIST = "/work/shared/data/mnist"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NORMALIZE = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])


def idx_bytes(array: np.ndarray, code: int | None = None) -> bytes:
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09, np.dtype(np.int16): 0x0B,
             np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D, np.dtype(np.float64): 0x0E}
    code = codes[array.dtype] if code is None else code
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path: str, data: bytes, gz: bool = False) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(gzip.compress(data) if gz else data)
    return path


def fake_mnist(folder: str, n_train: int = 12, n_test: int = 6, gz: bool = True,
               seed: int = 0) -> dict[str, bytes]:
    """Four small MNIST-format files in ``folder``; returns their (gzipped) bytes by name."""
    rng = np.random.default_rng(seed)
    files = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=n, dtype=np.uint8)
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            name = f"{prefix}-{kind}-ubyte" + (".gz" if gz else "")
            data = gzip.compress(idx_bytes(arr)) if gz else idx_bytes(arr)
            write(os.path.join(folder, name), data)
            files[name] = data
    return files


# --- IDX --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64])
@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_generated(tmp_path, dtype, gz):
    arr = (np.arange(2 * 3 * 4) - 5).astype(dtype).reshape(2, 3, 4)
    path = write(str(tmp_path / "x-idx3"), idx_bytes(arr), gz=gz)
    out = dutils.read_idx(path)
    assert out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, arr)


def test_read_idx_ranks(tmp_path):
    for shape in [(5,), (2, 3), (1, 2, 3, 4), (0, 28, 28)]:
        arr = np.arange(int(np.prod(shape)), dtype=np.uint8).reshape(shape)
        np.testing.assert_array_equal(dutils.read_idx(write(str(tmp_path / "a"), idx_bytes(arr))),
                                      arr)


def test_read_real_mnist_files():
    train_images = read_image_file(os.path.join(FULL_MNIST, "train-images-idx3-ubyte.gz"))
    train_labels = read_label_file(os.path.join(FULL_MNIST, "train-labels-idx1-ubyte.gz"))
    test_labels = read_label_file(os.path.join(FULL_MNIST, "t10k-labels-idx1-ubyte.gz"))
    assert train_images.shape == (60000, 28, 28) and train_images.dtype == chainrule.uint8
    assert train_labels.dtype == chainrule.int64
    # the published class counts of MNIST
    assert np.bincount(train_labels.numpy()).tolist() == [5923, 6742, 5958, 6131, 5842, 5421,
                                                          5918, 6265, 5851, 5949]
    assert np.bincount(test_labels.numpy()).tolist() == [980, 1135, 1032, 1010, 982, 892, 958,
                                                         1028, 974, 1009]
    # the pixels are the bytes after the 16-byte header
    with gzip.open(os.path.join(FULL_MNIST, "train-images-idx3-ubyte.gz")) as f:
        raw = f.read(16 + 784)
    np.testing.assert_array_equal(train_images.numpy()[0].ravel(), np.frombuffer(raw[16:], np.uint8))
    assert train_labels.numpy()[:5].tolist() == [5, 0, 4, 1, 9]


def corrupt_cases(tmp_path):
    good = idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    gz = gzip.compress(good)
    flipped = bytearray(gz)
    flipped[len(flipped) // 2] ^= 0xFF
    flipped[len(flipped) // 2 + 1] ^= 0xFF
    return {
        "truncated data": (good[:-5], False, "truncated IDX file"),
        "truncated header": (good[:9], False, "truncated IDX header"),
        "tiny": (good[:2], False, "truncated IDX file"),
        "bad magic": (b"\x12\x34" + good[2:], False, "not an IDX file"),
        "bad type": (b"\x00\x00\x07" + good[3:], False, "not an IDX file"),
        "trailing bytes": (good + b"\x00\x00", False, "corrupt IDX file"),
        "truncated gzip": (gz[: len(gz) // 2], True, "truncated gzip file"),
        "corrupt gzip": (bytes(flipped), True, "corrupt gzip file|truncated IDX|corrupt IDX"),
    }


@pytest.mark.parametrize("case", ["truncated data", "truncated header", "tiny", "bad magic",
                                  "bad type", "trailing bytes", "truncated gzip", "corrupt gzip"])
def test_corrupt_idx_errors_name_the_file(tmp_path, case):
    data, _, message = corrupt_cases(tmp_path)[case]
    path = write(str(tmp_path / "sub" / "train-images-idx3-ubyte.gz"), data)
    with pytest.raises(RuntimeError, match=message) as err:
        dutils.read_idx(path)
    assert path in str(err.value)


def test_mnist_errors_on_bad_files(tmp_path):
    fake_mnist(str(tmp_path))
    # labels that disagree in number with the images
    write(str(tmp_path / "train-labels-idx1-ubyte.gz"),
          idx_bytes(np.zeros(5, dtype=np.uint8)), gz=True)
    with pytest.raises(RuntimeError, match="holds 12 images but .* holds 5 labels"):
        datasets.MNIST(str(tmp_path))
    write(str(tmp_path / "train-labels-idx1-ubyte.gz"),
          idx_bytes(np.full(12, 11, dtype=np.uint8)), gz=True)
    with pytest.raises(RuntimeError, match="label 11 is out of range"):
        datasets.MNIST(str(tmp_path))
    write(str(tmp_path / "train-images-idx3-ubyte.gz"),
          idx_bytes(np.zeros((12, 28, 28), np.float32)), gz=True)
    with pytest.raises(RuntimeError, match="expected uint8 images"):
        datasets.MNIST(str(tmp_path))


# --- MNIST ------------------------------------------------------------------------------------

def test_mnist_full_from_files_in_root():
    train = datasets.MNIST(FULL_MNIST)
    test = datasets.MNIST(FULL_MNIST, train=False)
    assert len(train) == 60000 and len(test) == 10000
    assert train.data.shape == (60000, 28, 28) and train.targets.dtype == chainrule.int64
    img, target = train[0]
    assert target == 5 and type(target) is int
    assert img.mode == "L" and img.size == (28, 28)
    np.testing.assert_array_equal(np.asarray(img), train.data.numpy()[0])
    assert "Number of datapoints: 60000" in repr(train) and "Split: Train" in repr(train)


@pytest.mark.parametrize("layout", ["torchvision_gz", "torchvision_raw", "flat_raw"])
def test_mnist_layouts(tmp_path, layout):
    folder = tmp_path / "MNIST" / "raw" if layout.startswith("torchvision") else tmp_path
    fake_mnist(str(folder), gz=layout.endswith("gz"))
    ds = datasets.MNIST(str(tmp_path), train=False, transform=T.ToTensor(),
                        target_transform=lambda y: y + 100)
    assert len(ds) == 6
    x, y = ds[3]
    assert x.shape == (1, 28, 28) and 100 <= y < 110
    np.testing.assert_allclose(x.numpy()[0], ds.data.numpy()[3] / 255.0, rtol=1e-6)


def test_fashion_and_kmnist_use_their_own_folder(tmp_path):
    fake_mnist(str(tmp_path / "FashionMNIST" / "raw"))
    assert len(datasets.FashionMNIST(str(tmp_path))) == 12
    with pytest.raises(RuntimeError, match="KMNIST"):
        datasets.KMNIST(str(tmp_path))


def test_missing_dataset_message(tmp_path):
    with pytest.raises(RuntimeError) as err:
        datasets.MNIST(str(tmp_path), train=True)
    text = str(err.value)
    assert "train-images-idx3-ubyte.gz" in text and "train-labels-idx1-ubyte.gz" in text
    assert os.path.join(str(tmp_path), "MNIST", "raw") in text and "download=True" in text


def test_bundled_sample():
    root = datasets.mnist_sample_root()
    files = sorted(os.listdir(root))
    gz = [f for f in files if f.endswith(".gz")]
    assert len(gz) == 4
    assert sum(os.path.getsize(os.path.join(root, f)) for f in files) < 3_000_000
    train, test = datasets.MNIST(root), datasets.MNIST(root, train=False)
    assert (len(train), len(test)) == (10000, 2000)
    counts = np.bincount(train.targets.numpy(), minlength=10)
    assert counts.min() > 800  # every digit well represented
    sample = datasets.MNIST.bundled_sample(train=False, transform=T.ToTensor())
    np.testing.assert_array_equal(sample.data.numpy(), test.data.numpy())
    assert sample[0][0].shape == (1, 28, 28)
    with pytest.raises(RuntimeError, match="ships a sample of MNIST only"):
        datasets.FashionMNIST.bundled_sample()


def test_sample_script_reproduces_the_bundled_files(tmp_path):
    subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "make_mnist_sample.py"),
                    "--src", FULL_MNIST, "--dst", str(tmp_path)], check=True, cwd=ROOT,
                   capture_output=True)
    root = datasets.mnist_sample_root()
    for name in os.listdir(tmp_path):
        assert dutils.calculate_md5(str(tmp_path / name)) == \
            dutils.calculate_md5(os.path.join(root, name)), name
    # and the sample is a subset of the real data
    full = datasets.MNIST(FULL_MNIST, train=False).data.numpy().reshape(10000, -1)
    sample = datasets.MNIST(root, train=False).data.numpy().reshape(2000, -1)
    lookup = {row.tobytes() for row in full}
    assert all(row.tobytes() in lookup for row in sample[:50])


def test_fast_batch_path_equals_per_sample_path():
    ds = datasets.MNIST(datasets.mnist_sample_root(), train=False, transform=NORMALIZE)
    idx = [5, 0, 1999, 17]
    fast = ds._getbatch(idx)
    slow = default_collate([ds[i] for i in idx])
    assert fast[0].dtype == slow[0].dtype == chainrule.float32
    np.testing.assert_array_equal(fast[0].numpy(), slow[0].numpy())
    np.testing.assert_array_equal(fast[1].numpy(), slow[1].numpy())
    # through a DataLoader, with a Subset in between
    sub = chainrule.utils.data.Subset(ds, list(range(0, 2000, 7)))
    batches = list(DataLoader(sub, batch_size=64))
    ds.transform = T.Compose([NORMALIZE, T.Lambda(lambda x: x)])  # defeats the fast path
    assert ds._getbatch(idx) is NotImplemented
    for (x, y), (x2, y2) in zip(batches, DataLoader(sub, batch_size=64)):
        np.testing.assert_array_equal(x.numpy(), x2.numpy())
        np.testing.assert_array_equal(y.numpy(), y2.numpy())
    ds.transform = T.Compose([T.ToTensor(), T.Resize(14)])
    fast, slow = ds._getbatch(idx)[0], default_collate([ds[i][0] for i in idx])
    np.testing.assert_allclose(fast.numpy(), slow.numpy(), rtol=1e-6, atol=1e-7)


def test_without_pillow_items_are_arrays(monkeypatch):
    monkeypatch.setattr(F, "_PIL_IMAGE", None)
    ds = datasets.MNIST(datasets.mnist_sample_root(), train=False)
    img, _ = ds[0]
    assert isinstance(img, np.ndarray) and img.shape == (28, 28) and img.dtype == np.uint8
    with_transform = datasets.MNIST(datasets.mnist_sample_root(), train=False, transform=NORMALIZE)
    x, _ = with_transform[0]
    monkeypatch.undo()
    x_pil, _ = with_transform[0]
    np.testing.assert_array_equal(x.numpy(), x_pil.numpy())
    # a batch of arrays collates; a batch of PIL images does not (as torch)
    monkeypatch.setattr(F, "_PIL_IMAGE", None)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    assert batch[0].shape == (4, 28, 28) and batch[0].dtype == chainrule.uint8
    monkeypatch.undo()
    with pytest.raises(TypeError, match="default_collate"):
        next(iter(DataLoader(ds, batch_size=4)))
    with pytest.raises(ImportError, match="chainrule\\[vision\\]"):
        monkeypatch.setattr(F, "_PIL_IMAGE", None)
        datasets.ImageFolder(ROOT)


# --- downloads against a local server ---------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, tuple[bytes, str]] = {}

    def do_GET(self):  # noqa: N802  (http.server's naming)
        entry = self.files.get(self.path)
        if entry is None:
            self.send_error(404)
            return
        body, mode = entry
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "interrupt":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(files: dict[str, tuple[bytes, str]]):
    handler = type("Handler", (_Handler,), {"files": files})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def no_partial_files(folder) -> bool:
    return not any(name.endswith(".part") for _, _, names in os.walk(folder) for name in names)


def test_download_url_good_bad_interrupted(tmp_path):
    body = os.urandom(100_000)
    files = {"/good.bin": (body, "ok"), "/cut.bin": (body, "interrupt")}
    with serve(files) as url:
        path = dutils.download_url(f"{url}/good.bin", str(tmp_path), md5=md5(body))
        assert open(path, "rb").read() == body
        # already there with the right MD5: not fetched again (the server would 404 now)
        files.pop("/good.bin")
        assert dutils.download_url(f"{url}/good.bin", str(tmp_path), md5=md5(body)) == path
        with pytest.raises(RuntimeError, match=r"interrupted after 50000 of 100000 bytes"):
            dutils.download_url(f"{url}/cut.bin", str(tmp_path), md5=md5(body))
        files["/bad.bin"] = (body[:-1] + bytes([body[-1] ^ 1]), "ok")  # always differs
        with pytest.raises(RuntimeError, match="bad.bin is corrupt: MD5 [0-9a-f]{32} instead of "
                           f"{md5(body)}; nothing was saved"):
            dutils.download_url(f"{url}/bad.bin", str(tmp_path), md5=md5(body))
    assert not os.path.exists(tmp_path / "cut.bin") and not os.path.exists(tmp_path / "bad.bin")
    assert no_partial_files(tmp_path)


def mnist_class(url_list, resources):
    return type("LocalMNIST", (datasets.MNIST,), {"mirrors": url_list, "resources": resources})


def test_mnist_download(tmp_path):
    served = fake_mnist(str(tmp_path / "src"))
    resources = [(name, md5(data)) for name, data in served.items()]
    broken = {f"/bad/{n}": (d[:-3] + b"xyz", "ok") for n, d in served.items()}
    good = {f"/good/{n}": (d, "ok") for n, d in served.items()}
    with serve({**broken, **good}) as url:
        cls = mnist_class([f"{url}/bad/", f"{url}/good/"], resources)  # first mirror corrupt
        ds = cls(str(tmp_path / "root"), train=False, download=True)
        assert len(ds) == 6
        raw = tmp_path / "root" / "LocalMNIST" / "raw"
        assert sorted(os.listdir(raw)) == sorted(served)
        for name, data in served.items():
            assert open(raw / name, "rb").read() == data
        assert no_partial_files(tmp_path / "root")
        # every mirror corrupt or interrupted: a clear error, nothing left behind
        cut = {f"/cut/{n}": (d, "interrupt") for n, d in served.items()}
        with serve(cut) as url2:
            cls = mnist_class([f"{url}/bad/", f"{url2}/cut/"], resources)
            with pytest.raises(RuntimeError) as err:
                cls(str(tmp_path / "other"), download=True)
    text = str(err.value)
    assert "Error downloading train-images-idx3-ubyte.gz" in text
    assert "MD5" in text and "interrupted" in text and "Offline?" in text
    assert os.path.join(str(tmp_path / "other"), "LocalMNIST", "raw") in text
    assert no_partial_files(tmp_path / "other")


def test_mnist_download_offline(tmp_path):
    with serve({}) as url:
        dead = url  # the port closes when the server stops
    cls = mnist_class([f"{dead}/"], datasets.MNIST.resources)
    with pytest.raises(RuntimeError) as err:
        cls(str(tmp_path), download=True)
    text = str(err.value)
    assert "train-images-idx3-ubyte.gz" in text and "t10k-labels-idx1-ubyte.gz" in text
    assert "Offline?" in text and str(tmp_path) in text


# --- CIFAR (binary) ---------------------------------------------------------------------------

def cifar_records(n: int, labels_per_record: int, seed: int, classes: int):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 32, 32, 3), dtype=np.uint8)
    labels = rng.integers(0, classes, size=(n, labels_per_record), dtype=np.uint8)
    planes = images.transpose(0, 3, 1, 2).reshape(n, -1)
    return np.concatenate([labels, planes], axis=1).tobytes(), images, labels


def make_cifar10(folder: str) -> dict:
    out = {}
    for i, name in enumerate(datasets.CIFAR10.train_list + datasets.CIFAR10.test_list):
        data, images, labels = cifar_records(3, 1, i, 10)
        write(os.path.join(folder, name), data)
        out[name] = (images, labels[:, 0])
    write(os.path.join(folder, "batches.meta.txt"),
          "\n".join(f"c{i}" for i in range(10)).encode() + b"\n\n")
    return out


def test_cifar10_binary(tmp_path):
    expected = make_cifar10(str(tmp_path / "cifar-10-batches-bin"))
    train = datasets.CIFAR10(str(tmp_path))
    test = datasets.CIFAR10(str(tmp_path), train=False, transform=T.ToTensor())
    assert train.data.shape == (15, 32, 32, 3) and len(test) == 3
    np.testing.assert_array_equal(train.data[3:6], expected["data_batch_2.bin"][0])
    assert train.targets[:3] == expected["data_batch_1.bin"][1].tolist()
    assert train.classes[0] == "c0" and train.class_to_idx["c9"] == 9
    img, target = train[0]
    assert img.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(img), expected["data_batch_1.bin"][0][0])
    x, _ = test[1]
    np.testing.assert_allclose(x.numpy(), expected["test_batch.bin"][0][1].transpose(2, 0, 1) / 255,
                               rtol=1e-6)
    fast = test._getbatch([0, 2])
    slow = default_collate([test[0], test[2]])
    np.testing.assert_array_equal(fast[0].numpy(), slow[0].numpy())
    np.testing.assert_array_equal(fast[1].numpy(), slow[1].numpy())
    # a truncated batch names the file
    path = tmp_path / "cifar-10-batches-bin" / "test_batch.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(RuntimeError, match="test_batch.bin: truncated or corrupt"):
        datasets.CIFAR10(str(tmp_path), train=False)
    with pytest.raises(RuntimeError, match="cifar-10-batches-bin"):
        datasets.CIFAR10(str(tmp_path / "nowhere"))


def test_cifar100_binary_and_download(tmp_path):
    data, images, labels = cifar_records(4, 2, 0, 20)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, payload in (("cifar-100-binary/train.bin", data),
                              ("cifar-100-binary/test.bin", data),
                              ("cifar-100-binary/fine_label_names.txt",
                               "\n".join(f"f{i}" for i in range(100)).encode())):
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
    archive = buf.getvalue()
    with serve({"/c100.tgz": (archive, "ok")}) as url:
        cls = type("LocalCIFAR100", (datasets.CIFAR100,),
                   {"url": f"{url}/c100.tgz", "tgz_md5": md5(archive)})
        ds = cls(str(tmp_path), download=True)
    np.testing.assert_array_equal(ds.data, images)
    assert ds.targets == labels[:, 1].tolist()  # the fine label, as torchvision
    assert ds.classes[5] == "f5" and len(ds.classes) == 100


def test_archive_with_escaping_member_is_refused(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../evil.txt")
        info.size = 4
        tar.addfile(info, io.BytesIO(b"evil"))
    path = write(str(tmp_path / "a" / "x.tar.gz"), buf.getvalue())
    with pytest.raises(RuntimeError, match="outside"):
        dutils.extract_archive(path)
    assert not os.path.exists(tmp_path / "evil.txt")


# --- FakeData and ImageFolder -----------------------------------------------------------------

def test_fakedata():
    ds = datasets.FakeData(size=5, image_size=(3, 6, 4), num_classes=4, transform=T.ToTensor())
    x, y = ds[2]
    x2, y2 = ds[2]
    assert x.shape == (3, 6, 4) and 0 <= y < 4
    np.testing.assert_array_equal(x.numpy(), x2.numpy())
    assert y == y2
    state = chainrule.get_rng_state()
    ds[0]
    np.testing.assert_array_equal(state.numpy(), chainrule.get_rng_state().numpy())
    with pytest.raises(IndexError):
        ds[5]
    gray = datasets.FakeData(size=2, image_size=(1, 5, 5))[0][0]
    assert gray.mode == "L"


def test_image_folder(tmp_path):
    pil = F._need_pil("test")
    rng = np.random.default_rng(0)
    for cls, count in (("cat", 2), ("dog", 3)):
        os.makedirs(tmp_path / cls)
        for i in range(count):
            pil.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)).save(
                tmp_path / cls / f"{i}.png")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    ds = datasets.ImageFolder(str(tmp_path), transform=T.ToTensor())
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert ds.targets == [0, 0, 1, 1, 1] and len(ds.imgs) == 5
    x, y = ds[4]
    assert x.shape == (3, 5, 7) and y == 1
    batch = next(iter(DataLoader(ds, batch_size=5)))
    assert batch[0].shape == (5, 3, 5, 7)
    os.makedirs(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes empty"):
        datasets.ImageFolder(str(tmp_path))
    assert len(datasets.ImageFolder(str(tmp_path), allow_empty=True)) == 5
    arrays = datasets.DatasetFolder(str(tmp_path), loader=lambda p: p, extensions=(".txt",),
                                    allow_empty=True)
    assert [os.path.basename(p) for p, _ in arrays.samples] == ["notes.txt"]
