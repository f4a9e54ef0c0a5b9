"""`import chainrule as torch` runs an ordinary PyTorch training script unchanged."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent('''
    import sys
    import {lib} as torch
    import {lib}.nn as nn
    import {lib}.nn.functional as F
    import {lib}.optim as optim
    from {lib}.utils.data import DataLoader, TensorDataset

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.fc = nn.Linear(4 * 7 * 7, 3)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.bn(self.conv(x))), 2)
            return self.fc(torch.flatten(x, 1))

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    x = torch.randn(48, 1, 14, 14)
    y = (x.mean(dim=(1, 2, 3)) > 0).long() + (x[:, 0, 0, 0] > 1).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)
    net = Net().to(device)
    opt = optim.Adam(net.parameters(), lr=1e-2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.9)
    losses = []
    for epoch in range(15):
        for xb, yb in loader:
            opt.zero_grad()
            loss = F.cross_entropy(net(xb), yb)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        sched.step()
        losses.append(loss.item())
    net.eval()
    with torch.no_grad():
        acc = (net(x).argmax(dim=1) == y).float().mean().item()
    torch.save(net.state_dict(), sys.argv[1])
    twin = Net()
    twin.load_state_dict(torch.load(sys.argv[1]))
    twin.eval()
    with torch.no_grad():
        same = torch.allclose(net(x), twin(x))
    print(losses[0], losses[-1], acc, same)
''')


def _run(lib: str, tmp_path) -> list[str]:
    script = tmp_path / f"{lib}_program.py"
    script.write_text(PROGRAM.format(lib=lib))
    done = subprocess.run([sys.executable, str(script), str(tmp_path / f"{lib}.ckpt")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_same_script_runs_on_chainrule_and_torch(tmp_path) -> None:
    for lib in ("torch", "chainrule"):
        first, last, acc, same = _run(lib, tmp_path)
        assert float(last) < float(first), lib
        assert float(acc) > 0.8, lib
        assert same == "True", lib
