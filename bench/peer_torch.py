"""PyTorch CPU peer: the network as torch.nn modules, torch.optim, eager mode.

Importable only when torch is installed (``make bench-peers``).
"""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

VERSION = torch.__version__


def make_step(workload, X, y, params, seed=0):
    torch.manual_seed(seed)
    dims = workload.dims
    modules = []
    for l in range(1, len(dims)):
        lin = nn.Linear(dims[l - 1], dims[l])
        with torch.no_grad():  # the same initial weights as everyone else (Linear keeps W^T)
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(params["W%d" % l].T)))
            lin.bias.copy_(torch.from_numpy(params["b%d" % l]))
        modules.append(lin)
        if l < len(dims) - 1:
            if workload.normalization == "batchnorm":
                modules.append(nn.BatchNorm1d(dims[l], eps=workload.eps, momentum=0.1))
            elif workload.normalization == "layernorm":
                modules.append(nn.LayerNorm(dims[l], eps=workload.eps))
            modules.append(nn.ReLU())
            if workload.keep < 1:
                modules.append(nn.Dropout(1 - workload.keep))
    model = nn.Sequential(*modules).train()
    if workload.rule == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=workload.learning_rate)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=workload.learning_rate)
    Xt = torch.from_numpy(X)          # shares the NumPy buffer
    yt = torch.from_numpy(y)
    gen = torch.Generator().manual_seed(seed + 1)
    n, b = X.shape[0], workload.batch

    def step():
        idx = torch.randint(n, (b,), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(Xt[idx]), yt[idx])
        loss.backward()
        opt.step()
        return loss.item()

    return step


def threads():
    return {"torch.get_num_threads": torch.get_num_threads(),
            "torch.get_num_interop_threads": torch.get_num_interop_threads()}
