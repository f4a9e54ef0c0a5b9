"""The lectures' toy computation graph over Python floats: step zero of the tutorial.

Each node holds a ``value`` (computed when the node is built: the forward pass) and a ``grad``
(d output / d node, filled by the backward pass). ``backpropagate()`` is one node's part of the
chain rule: multiply its own gradient by its local derivatives and *add* the results into its
parents' gradients. :func:`backward` calls it on every node, from the output back to the
inputs, each node only after every node that uses it (reverse topological order).

chainrule's real engine (``chainrule.autograd``) does the same on tensors; the tutorial shows
both computing the same numbers.

Example:
    >>> from chainrule.toy import Constant, backward
    >>> x, y, z = Constant(-2.0), Constant(5.0), Constant(-4.0)
    >>> f = (x + y) * z
    >>> f.value
    -12.0
    >>> _ = backward(f)
    >>> x.grad, y.grad, z.grad
    (-4.0, -4.0, 3.0)
"""

from __future__ import annotations

import math

__all__ = ["Node", "Constant", "Add", "Mul", "Sin", "Exp", "Log", "Max", "Sigmoid", "Relu",
           "backward"]


class Node:
    """A value in the graph, the nodes it was computed from, and its gradient."""

    def __init__(self, value: float, parents: tuple[Node, ...] = ()) -> None:
        self.value = float(value)
        self.parents = parents
        self.grad = 0.0

    def local_gradients(self) -> tuple[float, ...]:
        """d self / d parent, one per parent (the op's own derivative)."""
        return ()

    def backpropagate(self) -> None:
        """Chain rule, one step: each parent receives grad * local derivative, summed in."""
        for parent, local in zip(self.parents, self.local_gradients()):
            parent.grad += self.grad * local

    # operators build new nodes, so ordinary expressions record the graph
    def __add__(self, other: Node) -> Node:
        return Add(self, other)

    def __mul__(self, other: Node) -> Node:
        return Mul(self, other)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(value={self.value:g}, grad={self.grad:g})"


class Constant(Node):
    """An input: a value with no parents."""

    def __init__(self, value: float) -> None:
        super().__init__(value)


class Add(Node):
    """a + b. Addition *distributes* the gradient: both local derivatives are 1."""

    def __init__(self, a: Node, b: Node) -> None:
        super().__init__(a.value + b.value, (a, b))

    def local_gradients(self) -> tuple[float, ...]:
        return (1.0, 1.0)


class Mul(Node):
    """a * b. Multiplication *switches* the gradient: each side gets the other's value."""

    def __init__(self, a: Node, b: Node) -> None:
        super().__init__(a.value * b.value, (a, b))

    def local_gradients(self) -> tuple[float, ...]:
        a, b = self.parents
        return (b.value, a.value)


class Sin(Node):
    """sin(a); local derivative cos(a)."""

    def __init__(self, a: Node) -> None:
        super().__init__(math.sin(a.value), (a,))

    def local_gradients(self) -> tuple[float, ...]:
        return (math.cos(self.parents[0].value),)


class Exp(Node):
    """exp(a); its local derivative is its own value."""

    def __init__(self, a: Node) -> None:
        super().__init__(math.exp(a.value), (a,))

    def local_gradients(self) -> tuple[float, ...]:
        return (self.value,)


class Log(Node):
    """log(a); local derivative 1 / a."""

    def __init__(self, a: Node) -> None:
        super().__init__(math.log(a.value), (a,))

    def local_gradients(self) -> tuple[float, ...]:
        return (1.0 / self.parents[0].value,)


class Max(Node):
    """max(a, b). Max *routes* the gradient to the larger input only (the first on a tie)."""

    def __init__(self, a: Node, b: Node) -> None:
        super().__init__(max(a.value, b.value), (a, b))

    def local_gradients(self) -> tuple[float, ...]:
        a, b = self.parents
        return (1.0, 0.0) if a.value >= b.value else (0.0, 1.0)


class Sigmoid(Node):
    """1 / (1 + exp(-a)); local derivative s (1 - s), with s its own value."""

    def __init__(self, a: Node) -> None:
        super().__init__(1.0 / (1.0 + math.exp(-a.value)), (a,))

    def local_gradients(self) -> tuple[float, ...]:
        return (self.value * (1.0 - self.value),)


class Relu(Node):
    """max(a, 0); local derivative 1 where a > 0, else 0."""

    def __init__(self, a: Node) -> None:
        super().__init__(max(a.value, 0.0), (a,))

    def local_gradients(self) -> tuple[float, ...]:
        return (1.0 if self.parents[0].value > 0 else 0.0,)


def backward(output: Node) -> list[Node]:
    """Fill every node's ``grad`` with d output / d node; returns the nodes in the order visited.

    Example:
        >>> from chainrule.toy import Constant, Sin, backward
        >>> x1, x2 = Constant(2.0), Constant(0.5)
        >>> f = x1 * x2 + Sin(x2)       # x2 reaches f along two paths: the gradients add
        >>> _ = backward(f)
        >>> round(x2.grad, 4)           # x1 + cos(x2)
        2.8776
    """
    order: list[Node] = []
    seen: set[int] = set()
    stack: list[tuple[Node, bool]] = [(output, False)]
    while stack:  # iterative depth-first post-order: parents before the node that uses them
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((p, False) for p in node.parents)
    for node in order:
        node.grad = 0.0
    output.grad = 1.0
    for node in reversed(order):  # the output first, each node after all its consumers
        node.backpropagate()
    return list(reversed(order))
