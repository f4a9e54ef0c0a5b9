"""Transforms against their definitions (and torch's interpolate), on every image kind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule
from chainrule.vision import transforms as T
from chainrule.vision.transforms import functional as F

Image = F._need_pil("the transform tests")
RNG = np.random.default_rng(0)
RGB = RNG.integers(0, 256, size=(6, 5, 3), dtype=np.uint8)  # H=6, W=5
GRAY = RNG.integers(0, 256, size=(6, 5), dtype=np.uint8)
SQUARE = RNG.integers(0, 256, size=(7, 7, 3), dtype=np.uint8)


def kinds(hwc: np.ndarray) -> dict:
    """The same image as a PIL image, a NumPy array, a CHW tensor and a batched tensor."""
    chw = np.ascontiguousarray(np.moveaxis(hwc, -1, 0)) if hwc.ndim == 3 else hwc[None]
    return {"pil": Image.fromarray(hwc), "numpy": hwc.copy(),
            "tensor": chainrule.from_numpy(chw.copy()),
            "batch": chainrule.from_numpy(np.stack([chw, chw]).copy())}


def as_hwc(img) -> np.ndarray:
    """Any image kind back to an (H, W[, C]) array (first image of a batch)."""
    if isinstance(img, chainrule.Tensor):
        a = img.numpy()
        if a.ndim == 4:
            a = a[0]
        a = np.moveaxis(a, 0, -1)
        return a[..., 0] if a.shape[-1] == 1 else a
    return np.asarray(img)


def check_all_kinds(fn, hwc, expected):
    for name, img in kinds(hwc).items():
        out = fn(img)
        assert type(out) is type(img), name
        np.testing.assert_array_equal(as_hwc(out), expected, err_msg=name)
        if name == "batch":
            np.testing.assert_array_equal(as_hwc(chainrule.from_numpy(out.numpy()[1:])), expected)


@pytest.mark.parametrize("img", [RGB, GRAY], ids=["rgb", "gray"])
def test_flips_exact(img):
    check_all_kinds(F.hflip, img, img[:, ::-1])
    check_all_kinds(F.vflip, img, img[::-1])
    check_all_kinds(T.RandomHorizontalFlip(p=1.0), img, img[:, ::-1])
    check_all_kinds(T.RandomVerticalFlip(p=1.0), img, img[::-1])
    check_all_kinds(T.RandomHorizontalFlip(p=0.0), img, img)


@pytest.mark.parametrize("size", [6, 7])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_right_angle_rotations_exact(size, k):
    img = RNG.integers(0, 256, size=(size, size, 3), dtype=np.uint8)
    check_all_kinds(lambda x: F.rotate(x, 90 * k), img, np.rot90(img, k))
    check_all_kinds(lambda x: F.rotate(x, 90 * k, interpolation=T.InterpolationMode.BILINEAR),
                    img, np.rot90(img, k))
    # Pillow's own rotation agrees (counter-clockwise)
    np.testing.assert_array_equal(np.asarray(Image.fromarray(img).rotate(90 * k)),
                                  np.rot90(img, k))
    # affine's angle turns clockwise
    check_all_kinds(lambda x: F.affine(x, -90.0 * k, [0, 0], 1.0, 0.0), img, np.rot90(img, k))


def test_rotation_non_square_and_expand():
    check_all_kinds(lambda x: F.rotate(x, 180), RGB, RGB[::-1, ::-1])
    even = np.ascontiguousarray(RGB[:, :4])  # odd sizes grow by one, as torchvision's
    check_all_kinds(lambda x: F.rotate(x, 90, expand=True), even, np.rot90(even))
    assert F.rotate(RGB, 90, expand=True).shape == (6, 6, 3)
    assert F.rotate(RGB, 45, expand=True).shape[:2] == (8, 8)
    # a rotation by a random angle keeps the centre pixel of an odd image
    out = F.rotate(SQUARE, 33.0)
    np.testing.assert_array_equal(out[3, 3], SQUARE[3, 3])
    # fill: the corners uncovered by a 45-degree turn take the fill value
    ones = np.full((9, 9, 3), 255, np.uint8)
    filled = F.rotate(ones, 45, fill=[10, 20, 30])
    np.testing.assert_array_equal(filled[0, 0], [10, 20, 30])
    np.testing.assert_array_equal(filled[4, 4], [255, 255, 255])
    chainrule.manual_seed(0)
    a = T.RandomRotation(30)(SQUARE)
    chainrule.manual_seed(0)
    np.testing.assert_array_equal(T.RandomRotation(30)(SQUARE), a)


def test_affine_translate_and_scale():
    for dx, dy in ((2, 0), (0, -1), (1, 3)):
        expected = np.zeros_like(RGB)
        h, w = RGB.shape[:2]
        ys, xs = slice(max(dy, 0), h + min(dy, 0)), slice(max(dx, 0), w + min(dx, 0))
        src_y, src_x = slice(max(-dy, 0), h - max(dy, 0)), slice(max(-dx, 0), w - max(dx, 0))
        expected[ys, xs] = RGB[src_y, src_x]
        check_all_kinds(lambda x, dx=dx, dy=dy: F.affine(x, 0.0, [dx, dy], 1.0, 0.0), RGB,
                        expected)
    check_all_kinds(lambda x: F.affine(x, 0.0, [0, 0], 1.0, [0.0, 0.0]), RGB, RGB)
    # scale 2 about the centre of a 4x4 image: each source pixel covers a 2x2 block
    small = np.arange(16, dtype=np.uint8).reshape(4, 4)
    zoomed = F.affine(small, 0.0, [0, 0], 2.0, 0.0)
    np.testing.assert_array_equal(zoomed, np.kron(small[1:3, 1:3], np.ones((2, 2), np.uint8)))
    with pytest.raises(ValueError, match="scale should be positive"):
        F.affine(RGB, 0.0, [0, 0], 0.0, 0.0)
    chainrule.manual_seed(4)
    a = T.RandomAffine(20, translate=(0.2, 0.2), scale=(0.8, 1.2), shear=10)
    out_pil = a(Image.fromarray(SQUARE))
    chainrule.manual_seed(4)
    out_tensor = a(kinds(SQUARE)["tensor"])
    np.testing.assert_array_equal(np.asarray(out_pil), as_hwc(out_tensor))
    angle, (tx, ty), scale, shear = T.RandomAffine.get_params(
        [-5, 5], [0.1, 0.2], [0.9, 1.1], [-3, 3, -2, 2], [50, 100])
    assert -5 <= angle <= 5 and abs(tx) <= 5 and abs(ty) <= 20 and 0.9 <= scale <= 1.1
    assert -3 <= shear[0] <= 3 and -2 <= shear[1] <= 2


def test_crops_and_pad():
    check_all_kinds(lambda x: F.crop(x, 1, 2, 3, 2), RGB, RGB[1:4, 2:4])
    outside = np.zeros((4, 4, 3), np.uint8)
    outside[1:, 1:] = RGB[:3, :3]
    check_all_kinds(lambda x: F.crop(x, -1, -1, 4, 4), RGB, outside)
    check_all_kinds(T.CenterCrop((2, 3)), RGB, RGB[2:4, 1:4])
    check_all_kinds(T.CenterCrop(4), RGB, RGB[1:5, 0:4])
    big = np.zeros((8, 7, 3), np.uint8)
    big[1:7, 1:6] = RGB
    check_all_kinds(T.CenterCrop((8, 7)), RGB, big)
    check_all_kinds(T.Pad(1), RGB, np.pad(RGB, ((1, 1), (1, 1), (0, 0))))
    check_all_kinds(T.Pad((1, 2)), RGB, np.pad(RGB, ((2, 2), (1, 1), (0, 0))))
    check_all_kinds(T.Pad((1, 2, 3, 0), padding_mode="reflect"), RGB,
                    np.pad(RGB, ((2, 0), (1, 3), (0, 0)), mode="reflect"))
    for mode in ("edge", "symmetric"):
        check_all_kinds(T.Pad(2, padding_mode=mode), RGB,
                        np.pad(RGB, ((2, 2), (2, 2), (0, 0)), mode=mode))
    filled = F.pad(RGB, 1, fill=(1, 2, 3))
    np.testing.assert_array_equal(filled[0, 0], [1, 2, 3])
    with pytest.raises(ValueError, match="Padding mode should be"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match="Padding must be an int or a 1, 2, or 4"):
        F.pad(RGB, (1, 2, 3))


def is_window(out: np.ndarray, img: np.ndarray) -> bool:
    h, w = out.shape[:2]
    return any(np.array_equal(img[i:i + h, j:j + w], out)
               for i in range(img.shape[0] - h + 1) for j in range(img.shape[1] - w + 1))


def test_random_crop():
    chainrule.manual_seed(0)
    outs = [T.RandomCrop(3)(RGB) for _ in range(20)]
    assert all(o.shape == (3, 3, 3) and is_window(o, RGB) for o in outs)
    assert len({o.tobytes() for o in outs}) > 3
    chainrule.manual_seed(0)
    assert all(np.array_equal(T.RandomCrop(3)(RGB), o) for o in outs)
    padded = np.pad(RGB, ((2, 2), (2, 2), (0, 0)))
    assert all(is_window(T.RandomCrop((6, 5), padding=2)(RGB), padded) for _ in range(10))
    out = T.RandomCrop((8, 9), pad_if_needed=True)(RGB)
    assert out.shape == (8, 9, 3) and out.sum() == RGB.astype(np.int64).sum()
    with pytest.raises(ValueError, match="Required crop size .* is larger than input image"):
        T.RandomCrop(10)(RGB)
    chainrule.manual_seed(1)
    t_out = T.RandomCrop(3)(kinds(RGB)["tensor"])
    chainrule.manual_seed(1)
    np.testing.assert_array_equal(as_hwc(t_out), np.asarray(T.RandomCrop(3)(Image.fromarray(RGB))))


def test_random_resized_crop():
    img = chainrule.rand(3, 32, 40)
    chainrule.manual_seed(3)
    a = T.RandomResizedCrop((16, 12))(img)
    chainrule.manual_seed(3)
    b = T.RandomResizedCrop((16, 12))(img)
    assert a.shape == (3, 16, 12)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    for _ in range(20):
        i, j, h, w = T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))
        assert 0 <= i and 0 <= j and i + h <= 32 and j + w <= 40 and h > 0 and w > 0
    # scale (1, 1) and ratio (W/H, W/H): the whole image
    i, j, h, w = T.RandomResizedCrop.get_params(img, (1.0, 1.0), (40 / 32, 40 / 32))
    assert (i, j, h, w) == (0, 0, 32, 40)


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [False, True])
@pytest.mark.parametrize("size", [(4, 3), (11, 9), (6, 13), (23, 17)])
def test_resize_matches_torch_interpolate(mode, antialias, size):
    x = np.random.default_rng(1).random((2, 3, 9, 7)).astype(np.float32)
    ours = F.resize(chainrule.from_numpy(x), list(size), T.InterpolationMode(mode),
                    antialias=antialias)
    theirs = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode=mode,
                                             align_corners=False, antialias=antialias)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5, atol=2e-6)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("size", [(4, 3), (11, 9), (18, 14), (5, 20)])
def test_resize_nearest_matches_torch(mode, size):
    x = np.random.default_rng(2).random((1, 2, 9, 7)).astype(np.float32)
    ours = F.resize(chainrule.from_numpy(x), list(size), T.InterpolationMode(mode))
    theirs = torch.nn.functional.interpolate(torch.from_numpy(x), size=size, mode=mode)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_resize_sizes_kinds_and_dtype():
    assert T.Resize(3)(chainrule.zeros(1, 6, 12)).shape == (1, 3, 6)
    assert T.Resize(3)(chainrule.zeros(1, 12, 6)).shape == (1, 6, 3)
    assert T.Resize(4, max_size=5)(chainrule.zeros(1, 4, 8)).shape == (1, 2, 5)
    out = T.Resize((3, 4))(RGB)
    assert out.shape == (3, 4, 3) and out.dtype == np.uint8
    expected = F.resize(chainrule.from_numpy(np.moveaxis(RGB, -1, 0).astype(np.float32)),
                        [3, 4]).numpy()
    np.testing.assert_array_equal(out, np.moveaxis(np.clip(np.rint(expected), 0, 255), 0, -1))
    np.testing.assert_array_equal(np.asarray(T.Resize((3, 4))(Image.fromarray(RGB))), out)
    # upsampling a constant image keeps it constant
    const = np.full((3, 3), 7, np.uint8)
    np.testing.assert_array_equal(F.resize(const, [9, 9]), np.full((9, 9), 7, np.uint8))


def test_to_tensor_and_back():
    x = T.ToTensor()(Image.fromarray(RGB))
    assert x.shape == (3, 6, 5) and x.dtype == chainrule.float32
    np.testing.assert_array_equal(x.numpy(), np.moveaxis(RGB, -1, 0).astype(np.float32) / 255)
    np.testing.assert_array_equal(T.ToTensor()(RGB).numpy(), x.numpy())
    g = T.ToTensor()(GRAY)
    assert g.shape == (1, 6, 5)
    floats = np.random.default_rng(0).random((4, 4, 2))
    np.testing.assert_array_equal(T.ToTensor()(floats).numpy(), np.moveaxis(floats, -1, 0))
    binary = Image.fromarray(GRAY > 128)
    np.testing.assert_array_equal(T.ToTensor()(binary).numpy()[0], (GRAY > 128).astype(np.float32))
    assert T.PILToTensor()(Image.fromarray(RGB)).dtype == chainrule.uint8
    np.testing.assert_array_equal(np.asarray(T.ToPILImage()(T.PILToTensor()(Image.fromarray(RGB)))),
                                  RGB)
    with pytest.raises(TypeError, match="pic should be PIL Image or ndarray"):
        T.ToTensor()(chainrule.zeros(1, 2, 2))
    with pytest.raises(ValueError, match="pic should be 2/3 dimensional"):
        T.ToTensor()(np.zeros((1, 1, 1, 1), np.uint8))


def test_normalize():
    x = chainrule.rand(2, 3, 4, 5)
    mean, std = (0.1, 0.2, 0.3), (0.5, 0.25, 2.0)
    out = T.Normalize(mean, std)(x)
    expected = (torch.from_numpy(x.numpy()) - torch.tensor(mean)[:, None, None]) / \
        torch.tensor(std)[:, None, None]
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    assert out is not x
    same = T.Normalize(mean, std, inplace=True)(x)
    assert same is x
    np.testing.assert_array_equal(x.numpy(), expected.numpy())
    hwc = np.random.default_rng(0).random((4, 5, 3)).astype(np.float32)
    np.testing.assert_array_equal(T.Normalize(mean, std)(hwc),
                                  (hwc - np.float32(mean)) / np.float32(std))
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        T.Normalize(mean, std)(chainrule.zeros(3, 2, 2, dtype=chainrule.uint8))
    with pytest.raises(ValueError, match="std evaluated to zero"):
        T.Normalize((0.0,), (0.0,))(chainrule.zeros(1, 2, 2))
    with pytest.raises(ValueError, match=r"Expected tensor to be a tensor image of size \(\.\.\., C, H, W\)"):
        T.Normalize((0.0,), (1.0,))(chainrule.zeros(2, 2))
    # a tensor that requires grad stays differentiable
    leaf = chainrule.rand(1, 2, 2, requires_grad=True)
    g = chainrule.randn(1, 2, 2)
    F.normalize(leaf, (0.5,), (0.25,)).backward(g)
    np.testing.assert_allclose(leaf.grad.numpy(), g.numpy() / 0.25, rtol=1e-6)


def test_color_adjustments_definitions():
    x = np.random.default_rng(0).random((4, 5, 3)).astype(np.float32)
    np.testing.assert_allclose(F.adjust_brightness(x, 0.5), x * 0.5, rtol=1e-6)
    np.testing.assert_allclose(F.adjust_brightness(x, 3.0), np.clip(x * 3.0, 0, 1), rtol=1e-6)
    gray_mean = (0.2989 * x[..., 0] + 0.587 * x[..., 1] + 0.114 * x[..., 2]).mean()
    np.testing.assert_allclose(F.adjust_contrast(x, 0.0), np.full_like(x, gray_mean), rtol=1e-5)
    np.testing.assert_allclose(F.adjust_contrast(x, 1.0), x, rtol=1e-6)
    sat0 = F.adjust_saturation(x, 0.0)
    np.testing.assert_allclose(sat0[..., 0], sat0[..., 2], rtol=1e-6)
    np.testing.assert_allclose(F.adjust_hue(x, 0.0), x, atol=1e-6)
    red = np.zeros((1, 1, 3), np.float32)
    red[..., 0] = 1.0
    np.testing.assert_allclose(F.adjust_hue(red, 0.5), [[[0.0, 1.0, 1.0]]], atol=1e-6)
    np.testing.assert_allclose(F.adjust_hue(red, -1 / 3), [[[0.0, 0.0, 1.0]]], atol=1e-6)
    # uint8 images: blended in float, clamped and truncated back (torchvision's rule)
    u8 = np.array([[[100, 200, 250]]], np.uint8)
    np.testing.assert_array_equal(F.adjust_brightness(u8, 1.5), [[[150, 255, 255]]])
    np.testing.assert_array_equal(F.adjust_brightness(Image.fromarray(u8), 1.5),
                                  [[[150, 255, 255]]])
    with pytest.raises(ValueError, match="brightness_factor"):
        F.adjust_brightness(x, -1)
    with pytest.raises(ValueError, match="hue_factor"):
        F.adjust_hue(x, 0.7)


def test_color_jitter():
    x = chainrule.rand(3, 8, 8)
    chainrule.manual_seed(5)
    a = T.ColorJitter(brightness=0.5, contrast=0.5, saturation=0.3, hue=0.1)(x)
    chainrule.manual_seed(5)
    b = T.ColorJitter(brightness=0.5, contrast=0.5, saturation=0.3, hue=0.1)(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.array_equal(a.numpy(), x.numpy())
    assert float(a.numpy().min()) >= 0 and float(a.numpy().max()) <= 1
    # brightness alone with a fixed range is exactly a scaling
    chainrule.manual_seed(6)
    _, factor, _, _, _ = T.ColorJitter.get_params((0.5, 0.5), None, None, None)
    assert factor == 0.5
    np.testing.assert_allclose(T.ColorJitter(brightness=(0.5, 0.5))(x).numpy(), x.numpy() * 0.5,
                               rtol=1e-6)
    assert T.ColorJitter().brightness is None
    with pytest.raises(ValueError, match="hue values should be between"):
        T.ColorJitter(hue=0.6)


def test_gaussian_noise():
    x = chainrule.full((1, 100, 100), 0.5)
    chainrule.manual_seed(0)
    out = T.GaussianNoise(mean=0.1, sigma=0.05)(x)
    noise = out.numpy() - 0.5
    assert abs(noise.mean() - 0.1) < 0.005 and abs(noise.std() - 0.05) < 0.005
    chainrule.manual_seed(0)
    np.testing.assert_array_equal(T.GaussianNoise(mean=0.1, sigma=0.05)(x).numpy(), out.numpy())
    clipped = T.GaussianNoise(sigma=5.0)(x).numpy()
    assert clipped.min() >= 0 and clipped.max() <= 1
    assert T.GaussianNoise(sigma=5.0, clip=False)(x).numpy().max() > 1
    with pytest.raises(ValueError, match="expected to be in float dtype"):
        T.GaussianNoise()(RGB)


def test_random_erasing():
    x = chainrule.ones(3, 20, 20)
    chainrule.manual_seed(2)
    out = T.RandomErasing(p=1.0, value=(0.0, 0.5, 0.25))(x)
    erased = out.numpy()[0] == 0
    rows, cols = np.nonzero(erased)
    assert erased.any() and erased.sum() == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)  # a rectangle
    np.testing.assert_array_equal(out.numpy()[1][erased], 0.5)
    assert x.numpy().min() == 1  # not in place
    assert T.RandomErasing(p=0.0)(x) is x
    chainrule.manual_seed(2)
    noisy = T.RandomErasing(p=1.0, value="random")(x).numpy()
    assert (noisy != 1).any()
    hwc = np.ones((20, 20, 3), np.float32)
    chainrule.manual_seed(2)
    out_np = T.RandomErasing(p=1.0, value=(0.0, 0.5, 0.25))(hwc)
    np.testing.assert_array_equal(np.moveaxis(out_np, -1, 0), out.numpy())
    with pytest.raises(ValueError, match="If value is a sequence"):
        T.RandomErasing(p=1.0, value=(1, 2))(x)


def test_compose_lambda_and_repr():
    t = T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2), T.Normalize((1.0,), (1.0,))])
    out = t(GRAY)
    np.testing.assert_allclose(out.numpy()[0], GRAY / 255 * 2 - 1, rtol=1e-5, atol=1e-6)
    assert "Normalize(mean=(1.0,), std=(1.0,))" in repr(t)
    with pytest.raises(TypeError, match="should be callable"):
        T.Lambda(3)


def test_batch_transform_plan():
    images = RNG.integers(0, 256, size=(4, 6, 5, 3), dtype=np.uint8)
    t = T.Compose([T.ToTensor(), T.CenterCrop(4), T.Normalize((0.5, 0.4, 0.3), (0.2, 0.2, 0.2))])
    run = T.batch_transform(t)
    np.testing.assert_array_equal(run(images).numpy(),
                                  np.stack([t(img).numpy() for img in images]))
    assert T.batch_transform(T.Compose([T.ToTensor(), T.RandomCrop(2)])) is None
    assert T.batch_transform(T.Normalize((0.5,), (0.5,))) is None
    assert T.batch_transform(None) is None
