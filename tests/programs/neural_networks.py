# Source: pytorch/tutorials, beginner_source/blitz/neural_networks_tutorial.py ("Deep Learning
#   with PyTorch: A 60 Minute Blitz: Neural Networks"), read at commit 7a017bba463b;
#   https://github.com/pytorch/tutorials. License: BSD-3-Clause.
# Written for chainrule's compatibility tests after that program (same network and steps;
# this repository commits no third-party code). Changes from the published program:
#   - grad_fn objects are printed by type name (their default repr holds a memory address);
#   - parameters and inputs are drawn after torch.manual_seed, and values that depend on the
#     draw are printed through checks (the two frameworks' random streams differ).
"""LeNet: define the network, its parameters, a forward and a backward pass, a loss, the
graph behind it, and the weight update by hand and with torch.optim."""
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, input):
        c1 = F.relu(self.conv1(input))
        s2 = F.max_pool2d(c1, (2, 2))
        c3 = F.relu(self.conv2(s2))
        s4 = F.max_pool2d(c3, 2)
        s4 = torch.flatten(s4, 1)
        f5 = F.relu(self.fc1(s4))
        f6 = F.relu(self.fc2(f5))
        return self.fc3(f6)


torch.manual_seed(0)
net = Net()
print(net)
params = list(net.parameters())
print(len(params))
print(params[0].size())

input = torch.randn(1, 1, 32, 32)
out = net(input)
print(out.shape)
net.zero_grad()
out.backward(torch.randn(1, 10))
print(all(p.grad is not None and p.grad.shape == p.shape for p in net.parameters()))

output = net(input)
target = torch.randn(10)
target = target.view(1, -1)
criterion = nn.MSELoss()
loss = criterion(output, target)
print(loss.shape, loss.item() > 0)
print(type(loss.grad_fn).__name__)  # MSELoss
print(type(loss.grad_fn.next_functions[0][0]).__name__)  # Linear
print(type(loss.grad_fn.next_functions[0][0].next_functions[0][0]).__name__)  # its bias

net.zero_grad()
print("conv1.bias.grad before backward")
print(net.conv1.bias.grad)
loss.backward()
print("conv1.bias.grad after backward")
print(net.conv1.bias.grad.shape, bool(net.conv1.bias.grad.abs().sum() > 0))

learning_rate = 0.01
before = net.fc3.bias.detach().clone()
for f in net.parameters():
    f.data.sub_(f.grad.data * learning_rate)
print(torch.allclose(net.fc3.bias, before - learning_rate * net.fc3.bias.grad))

optimizer = optim.SGD(net.parameters(), lr=0.01)
losses = []
for _ in range(20):
    optimizer.zero_grad()
    output = net(input)
    loss = criterion(output, target)
    loss.backward()
    optimizer.step()
    losses.append(loss.item())
print("loss decreased:", losses[-1] < losses[0])
