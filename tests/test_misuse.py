"""Misuse parity: each mistake below raises the same exception type in chainrule as in torch,
and chainrule's message names the operation and the shapes (or dtypes) involved.

Every case is one function of the framework module (``import chainrule as torch`` or the real
``torch``), run under both. ``fragments`` must all appear in chainrule's message; they are
torch's own words wherever torch's message is clear, with ``Size([...])`` standing for
``torch.Size``/``chainrule.Size``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import torch

import chainrule


@dataclass
class Case:
    name: str
    run: Callable[[Any], Any]
    fragments: tuple[str, ...]


def _leaf(t, *shape):
    return t.ones(*shape, requires_grad=True)


def _backward_twice(t):
    x = _leaf(t, 2)
    y = (x * x).sum()
    y.backward()
    y.backward()


def _saved_tensor_modified(t):
    x = _leaf(t, 2)
    a = x * 2
    b = a * a  # saves a
    a.add_(1)
    b.sum().backward()


def _saved_output_modified(t):
    x = _leaf(t, 3)
    y = x.exp()  # saves its output
    y.mul_(2)
    y.sum().backward()


def _unused_input(t):
    x, z = _leaf(t, 2), _leaf(t, 2)
    t.autograd.grad((x * 2).sum(), [x, z])


def _optimizer_groups(t):
    a, b = _leaf(t, 2), _leaf(t, 2)
    opt = t.optim.SGD([a], lr=0.1)
    other = t.optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    opt.load_state_dict(other.state_dict())


def _optimizer_group_sizes(t):
    a, b = _leaf(t, 2), _leaf(t, 2)
    opt = t.optim.SGD([a], lr=0.1)
    other = t.optim.SGD([a, b], lr=0.1)
    opt.load_state_dict(other.state_dict())


def _assign_grad(t, grad):
    x = _leaf(t, 2)
    x.grad = grad(t)


CASES = [
    # -- shapes: matmul, linear, conv ---------------------------------------------------------
    Case("matmul 2d", lambda t: t.randn(2, 3) @ t.randn(4, 5),
         ("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)",)),
    Case("matmul 1d", lambda t: t.randn(3) @ t.randn(4),
         ("inconsistent tensor size", "[3]", "[4]")),
    Case("matmul batched", lambda t: t.randn(2, 3, 4) @ t.randn(2, 5, 6),
         ("[2, 4]", "[2, 5]")),
    Case("matmul 0d", lambda t: t.tensor(1.0) @ t.randn(2),
         ("both arguments to matmul need to be at least 1D", "0D and 1D")),
    Case("mm of a vector", lambda t: t.mm(t.randn(3), t.randn(3, 3)), ("self must be a matrix",)),
    Case("bmm of matrices", lambda t: t.bmm(t.randn(2, 3), t.randn(3, 4)),
         ("batch1 must be a 3D tensor",)),
    Case("matmul dtypes", lambda t: t.randn(2, 2) @ t.randn(2, 2, dtype=t.float64),
         ("expected m1 and m2 to have the same dtype", "float != double")),
    Case("linear in_features", lambda t: t.nn.Linear(4, 5)(t.randn(2, 3)),
         ("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)",)),
    Case("linear dtype", lambda t: t.nn.Linear(2, 2)(t.randn(1, 2, dtype=t.float64)),
         ("mat1 and mat2 must have the same dtype", "Double", "Float")),
    Case("linear negative size", lambda t: t.nn.Linear(-1, 2),
         ("Trying to create tensor with negative dimension -1",)),
    Case("conv2d channels", lambda t: t.nn.Conv2d(3, 8, 3)(t.randn(1, 4, 8, 8)),
         ("Given groups=1, weight of size [8, 3, 3, 3], expected input[1, 4, 8, 8] to have 3 "
          "channels, but got 4 channels instead",)),
    Case("conv2d kernel larger than input", lambda t: t.nn.Conv2d(1, 1, 5)(t.randn(1, 1, 3, 3)),
         ("Calculated padded input size per channel: (3 x 3). Kernel size: (5 x 5). Kernel "
          "size can't be greater than actual input size",)),
    Case("conv2d rank", lambda t: t.nn.Conv2d(1, 1, 3)(t.randn(8, 8)),
         ("Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: "
          "[8, 8]",)),
    Case("max_pool2d output too small", lambda t: t.nn.functional.max_pool2d(
        t.randn(1, 1, 2, 2), 3), ("Output size is too small",)),
    # -- shapes: joining, views, broadcasting -------------------------------------------------
    Case("cat sizes", lambda t: t.cat([t.randn(2, 3), t.randn(2, 4)]),
         ("Sizes of tensors must match except in dimension 0. Expected size 3 but got size 4 "
          "for tensor number 1 in the list",)),
    Case("cat empty", lambda t: t.cat([]), ("expected a non-empty list of Tensors",)),
    Case("cat dim", lambda t: t.cat([t.randn(2), t.randn(2)], dim=1),
         ("Dimension out of range (expected to be in range of [-1, 0], but got 1)",)),
    Case("stack sizes", lambda t: t.stack([t.randn(2), t.randn(3)]),
         ("stack expects each tensor to be equal size, but got [2] at entry 0 and [3] at "
          "entry 1",)),
    Case("view size", lambda t: t.randn(2, 3).view(4),
         ("shape '[4]' is invalid for input of size 6",)),
    Case("reshape size", lambda t: t.randn(2, 3).reshape(5, -1),
         ("shape '[5, -1]' is invalid for input of size 6",)),
    Case("view two -1", lambda t: t.randn(6).view(-1, -1), ("only one dimension can be inferred",)),
    Case("view negative size", lambda t: t.randn(6).view(-2, 3), ("invalid shape dimension -2",)),
    Case("view of a non-contiguous tensor", lambda t: t.randn(2, 3).t().view(6),
         ("view size is not compatible with input tensor's size and stride",
          "Use .reshape(...) instead")),
    Case("expand size", lambda t: t.randn(2, 3).expand(4, 3),
         ("The expanded size of the tensor (4) must match the existing size (2) at "
          "non-singleton dimension 0", "[4, 3]", "[2, 3]")),
    Case("expand fewer dims", lambda t: t.randn(2, 3).expand(3),
         ("the number of sizes provided (1) must be greater or equal to the number of "
          "dimensions in the tensor (2)",)),
    Case("broadcast", lambda t: t.randn(2, 3) + t.randn(4),
         ("The size of tensor a (3) must match the size of tensor b (4) at non-singleton "
          "dimension 1",)),
    Case("in-place broadcast", lambda t: t.randn(3).add_(t.randn(2, 3)),
         ("output with shape [3] doesn't match the broadcast shape [2, 3]",)),
    Case("mse_loss shapes", lambda t: t.nn.functional.mse_loss(t.randn(2, 3), t.randn(4)),
         ("The size of tensor a (3) must match the size of tensor b (4)",)),
    Case("permute length", lambda t: t.randn(2, 3).permute(0),
         ("number of dimensions in the tensor input does not match the length of the desired "
          "ordering of dimensions", "input.dim() = 2 is not equal to len(dims) = 1")),
    Case("permute duplicates", lambda t: t.randn(2, 3).permute(0, 0),
         ("duplicate dims are not allowed",)),
    Case("flatten dims", lambda t: t.randn(2, 3).flatten(1, 0),
         ("start_dim cannot come after end_dim",)),
    Case("chunk 0", lambda t: t.randn(4).chunk(0),
         ("chunk expects `chunks` to be greater than 0, got: 0",)),
    Case("split sizes", lambda t: t.randn(4).split([1, 2]),
         ("split_with_sizes expects split_sizes to sum exactly to 4", "[1, 2]")),
    Case("pad length", lambda t: t.nn.functional.pad(t.randn(2, 2), (1,)),
         ("Padding length must be divisible by 2",)),
    Case("randn negative size", lambda t: t.randn(-1),
         ("Trying to create tensor with negative dimension -1: [-1]",)),
    # -- bad dims -----------------------------------------------------------------------------
    Case("transpose dim", lambda t: t.randn(2, 3).transpose(0, 2),
         ("Dimension out of range (expected to be in range of [-2, 1], but got 2)",)),
    Case("sum dim", lambda t: t.randn(2, 3).sum(dim=2),
         ("Dimension out of range (expected to be in range of [-2, 1], but got 2)",)),
    Case("softmax dim", lambda t: t.nn.functional.softmax(t.randn(2, 3), dim=3),
         ("Dimension out of range (expected to be in range of [-2, 1], but got 3)",)),
    Case("unsqueeze dim", lambda t: t.randn(2).unsqueeze(3),
         ("Dimension out of range (expected to be in range of [-2, 1], but got 3)",)),
    Case("max of empty", lambda t: t.tensor([]).max(),
         ("max(): Expected reduction dim to be specified for input.numel() == 0",)),
    Case("topk k", lambda t: t.randn(3).topk(5), ("selected index k out of range",)),
    # -- indices ------------------------------------------------------------------------------
    Case("index out of range", lambda t: t.randn(3)[5],
         ("index 5 is out of bounds for dimension 0 with size 3",)),
    Case("too many indices", lambda t: t.randn(3)[0, 0],
         ("too many indices for tensor of dimension 1",)),
    Case("float index tensor", lambda t: t.randn(3)[t.tensor([0.0])],
         ("tensors used as indices must be long, int, byte or bool tensors",)),
    Case("gather index", lambda t: t.randn(2, 3).gather(1, t.tensor([[5]])),
         ("index 5 is out of bounds for dimension 1 with size 3",)),
    Case("gather index dtype", lambda t: t.randn(2, 3).gather(1, t.tensor([[0.0]])),
         ("gather(): Expected dtype int64 for index",)),
    Case("index_select index", lambda t: t.randn(3).index_select(0, t.tensor([4])),
         ("index out of range in self",)),
    Case("embedding index", lambda t: t.nn.Embedding(5, 2)(t.tensor([7])),
         ("index out of range in self",)),
    Case("cross_entropy target", lambda t: t.nn.functional.cross_entropy(
        t.randn(2, 3), t.tensor([0, 5])), ("Target 5 is out of bounds",)),
    Case("cross_entropy batch", lambda t: t.nn.functional.cross_entropy(
        t.randn(2, 3), t.tensor([0, 1, 2])),
         ("Expected input batch_size (2) to match target batch_size (3)",)),
    Case("one_hot negative", lambda t: t.nn.functional.one_hot(t.tensor([-1])),
         ("Class values must be non-negative",)),
    Case("one_hot classes", lambda t: t.nn.functional.one_hot(t.tensor([3]), 2),
         ("Class values must be smaller than num_classes",)),
    # -- dtypes -------------------------------------------------------------------------------
    Case("int tensor requires_grad", lambda t: t.tensor([1, 2], requires_grad=True),
         ("Only Tensors of floating point and complex dtype can require gradients",)),
    Case("int requires_grad_", lambda t: t.arange(3).requires_grad_(),
         ("only Tensors of floating point dtype can require gradients",)),
    Case("in-place float into int", lambda t: t.arange(3).add_(1.5),
         ("result type Float can't be cast to the desired output type Long",)),
    Case("in-place float tensor into int", lambda t: t.zeros(3, dtype=t.int64).mul_(t.randn(3)),
         ("result type Float can't be cast to the desired output type Long",)),
    Case("bitwise on float", lambda t: t.randn(2) & t.randn(2),
         ("bitwise_and", "not implemented for 'Float'")),
    Case("invert a float tensor", lambda t: ~t.randn(2),
         ("~ (operator.invert) is only implemented on integer and Boolean-type tensors",)),
    Case("adaptive pool of ints", lambda t: t.nn.functional.adaptive_avg_pool2d(
        t.ones(1, 1, 4, 4, dtype=t.int64), 2), ("adaptive_avg_pool2d", "'Long'")),
    Case("rand of ints", lambda t: t.rand(2, dtype=t.int64),
         ("check_uniform_bounds", "'Long'")),
    Case("where condition dtype", lambda t: t.where(t.tensor([1, 0]), t.ones(2), t.zeros(2)),
         ("where expected condition to be a boolean tensor, but got a tensor with dtype Long",)),
    Case("masked_fill mask dtype", lambda t: t.randn(2).masked_fill(t.tensor([1.0, 0.0]), 0),
         ("masked_fill_ only supports boolean masks, but got mask with dtype float",)),
    Case("cross_entropy int input", lambda t: t.nn.functional.cross_entropy(
        t.tensor([[1, 2]]), t.tensor([0])), ("not implemented for 'Long'",)),
    Case("zeros float size", lambda t: t.zeros(2.5),
         ("zeros(): argument 'size' (position 1) must be tuple of ints, not float",)),
    Case("ones float size in a list", lambda t: t.ones([2.0]),
         ("ones(): argument 'size' (position 1) must be tuple of ints, but found element of "
          "type float at pos 0",)),
    # -- autograd -----------------------------------------------------------------------------
    Case("in-place on a leaf", lambda t: _leaf(t, 2).add_(1),
         ("a leaf Variable that requires grad is being used in an in-place operation",)),
    Case("in-place on a view of a leaf", lambda t: _leaf(t, 3).view(3).mul_(2),
         ("a view of a leaf Variable that requires grad is being used in an in-place "
          "operation",)),
    Case("backward twice", _backward_twice,
         ("Trying to backward through the graph a second time",
          "Specify retain_graph=True")),
    Case("non-scalar backward", lambda t: (_leaf(t, 2) * 2).backward(),
         ("grad can be implicitly created only for scalar outputs",)),
    Case("backward without grad", lambda t: t.ones(2).sum().backward(),
         ("element 0 of tensors does not require grad and does not have a grad_fn",)),
    Case("grad of a non-requiring tensor", lambda t: t.autograd.grad(
        (_leaf(t, 2) * 2).sum(), t.ones(2)),
         ("One of the differentiated Tensors does not require grad",)),
    Case("grad of an unused input", _unused_input,
         ("The differentiated Tensor at index 1 appears to not have been used in the graph",
          "allow_unused=True")),
    Case("saved tensor modified in place", _saved_tensor_modified,
         ("one of the variables needed for gradient computation has been modified by an "
          "inplace operation", "[2]", "MulBackward0", "is at version 1; expected version 0")),
    Case("saved output modified in place", _saved_output_modified,
         ("one of the variables needed for gradient computation has been modified by an "
          "inplace operation", "[3]", "ExpBackward0")),
    Case("backward gradient shape", lambda t: (_leaf(t, 2) * 2).backward(t.ones(3)),
         ("Mismatch in shape: grad_output[0] has a shape of", "Size([3])",
          "output[0] has a shape of", "Size([2])")),
    Case("numpy of a tensor that requires grad", lambda t: _leaf(t, 2).numpy(),
         ("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
          "instead",)),
    Case("item of many elements", lambda t: t.randn(3).item(),
         ("a Tensor with 3 elements cannot be converted to Scalar",)),
    Case("bool of many elements", lambda t: bool(t.randn(3)),
         ("Boolean value of Tensor with more than one value is ambiguous",)),
    Case("requires_grad of a non-leaf", lambda t: (_leaf(t, 2) * 2).requires_grad_(False),
         ("you can only change requires_grad flags of leaf variables",)),
    Case("grad of another size", lambda t: _assign_grad(t, lambda t: t.ones(3)),
         ("attempting to assign a gradient of size '[3]' to a tensor of size '[2]'",)),
    Case("grad of another dtype", lambda t: _assign_grad(
        t, lambda t: t.ones(2, dtype=t.float64)),
         ("attempting to assign a gradient with dtype 'double' to a tensor with grad_dtype "
          "'Float'",)),
    Case("grad that is not a tensor", lambda t: _assign_grad(t, lambda t: 3),
         ("assigned grad expected to be a Tensor or None but got grad of type int",)),
    Case("linear bias dtype", lambda t: t.nn.functional.linear(
        t.randn(3, 1, 2), t.randn(2, 2), t.randn(2, dtype=t.float64)),
         ("self and mat2 must have the same dtype, but got Double and Float",)),
    # -- optimizers and state dicts -----------------------------------------------------------
    Case("optimizer with a non-leaf", lambda t: t.optim.SGD([_leaf(t, 2) * 2], lr=0.1),
         ("can't optimize a non-leaf Tensor",)),
    Case("optimizer with a tensor", lambda t: t.optim.SGD(_leaf(t, 2), lr=0.1),
         ("params argument given to the optimizer should be an iterable of Tensors or dicts",)),
    Case("optimizer without parameters", lambda t: t.optim.SGD([], lr=0.1),
         ("optimizer got an empty parameter list",)),
    Case("negative learning rate", lambda t: t.optim.SGD([_leaf(t, 2)], lr=-1),
         ("Invalid learning rate: -1",)),
    Case("adam beta", lambda t: t.optim.Adam([_leaf(t, 2)], betas=(1.5, 0.9)),
         ("Invalid beta parameter at index 0: 1.5",)),
    Case("optimizer state groups", _optimizer_groups,
         ("loaded state dict has a different number of parameter groups",)),
    Case("optimizer state group sizes", _optimizer_group_sizes,
         ("loaded state dict contains a parameter group that doesn't match the size of "
          "optimizer's group",)),
    Case("load_state_dict missing key", lambda t: t.nn.Linear(2, 2).load_state_dict(
        {"weight": t.ones(2, 2)}), ('Missing key(s) in state_dict: "bias"',)),
    Case("load_state_dict unexpected key", lambda t: t.nn.Linear(2, 2).load_state_dict(
        {"weight": t.ones(2, 2), "bias": t.ones(2), "extra": t.ones(1)}),
         ('Unexpected key(s) in state_dict: "extra"',)),
    Case("load_state_dict size", lambda t: t.nn.Linear(2, 2).load_state_dict(
        {"weight": t.ones(3, 2), "bias": t.ones(2)}),
         ("size mismatch for weight: copying a param with shape", "Size([3, 2])",
          "the shape in current model is", "Size([2, 2])")),
    Case("parameter assigned a tensor", lambda t: setattr(t.nn.Linear(2, 2), "weight",
                                                          t.ones(2, 2)),
         ("cannot assign", "as parameter 'weight' (torch.nn.Parameter or None expected)")),
    Case("add_module of a non-module", lambda t: t.nn.Module().add_module("x", 3),
         ("int is not a Module subclass",)),
    Case("batch_norm of one sample", lambda t: t.nn.BatchNorm1d(3)(t.randn(1, 3)),
         ("Expected more than 1 value per channel when training, got input size",
          "Size([1, 3])")),
    Case("dropout probability", lambda t: t.nn.functional.dropout(t.randn(2), p=1.5),
         ("dropout probability has to be between 0 and 1, but got 1.5",)),
    Case("device string", lambda t: t.randn(2).to("gpu"),
         ("device type at start of device string: gpu",)),
]


def outcome(module, case):
    try:
        case.run(module)
    except Exception as e:  # noqa: BLE001  (the point is which one)
        return e
    return None


def test_the_table_is_large_enough():
    assert len(CASES) >= 50
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_misuse_raises_torchs_exception_naming_op_and_shapes(case):
    theirs = outcome(torch, case)
    ours = outcome(chainrule, case)
    assert theirs is not None, f"torch accepts {case.name}: the case is wrong"
    assert ours is not None, f"chainrule accepts {case.name}; torch raises {theirs!r}"
    assert type(ours) is type(theirs), (
        f"chainrule raises {type(ours).__name__}: {ours}\ntorch raises "
        f"{type(theirs).__name__}: {theirs}")
    message = str(ours)
    for fragment in case.fragments:
        assert fragment in message, (f"{fragment!r} not in chainrule's message:\n{message}\n"
                                     f"torch's: {theirs}")
