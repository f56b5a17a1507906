"""Past/future LSTM vs one-way LSTM on synthetic data whose target depends on the future input."""

import numpy as np
import pytest
import torch

from soilco2.models.mlp import WindowMLP
from soilco2.models.pastfuture import OneWayLSTM, PastFutureLSTM
from soilco2.training import masked_mse, train


def _data(n=1500, P=12, F=12, seed=0):
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.normal(size=n + P + F), dtype=float)
    x = (x - x.mean()) / x.std() + np.sin(np.arange(n + P + F) / 3.0)
    past = np.stack([x[i : i + P] for i in range(n)])[..., None].astype(np.float32)
    future = np.stack([x[i + P : i + P + F] for i in range(n)])[..., None].astype(np.float32)
    # the target at t depends on the coming 6 steps (like flux leading soil temperature)
    y = (future[:, :6, 0].mean(axis=1) - past[:, -1, 0]).astype(np.float32)
    return torch.from_numpy(past), torch.from_numpy(future), torch.from_numpy((y - y.mean()) / y.std())


def _fit(model, past, future, y, epochs=25):
    tr, va = np.arange(0, 1200), np.arange(1200, 1500)

    def batches(rng):
        idx = rng.permutation(tr)
        for k in range(0, idx.size, 64):
            b = torch.from_numpy(idx[k : k + 64])
            yield (past[b], future[b]), y[b], torch.ones(b.numel())

    def val(m):
        b = torch.from_numpy(va)
        return float(masked_mse(m(past[b], future[b]), y[b], torch.ones(b.numel())))

    torch.manual_seed(0)
    res = train(model, batches, val, epochs=epochs, lr=1e-2, patience=8, seed=0, show_progress=False)
    return res.best_val_loss


def test_shapes_and_future_branch_reads_backward():
    torch.manual_seed(0)
    m = PastFutureLSTM(n_past=3, n_future=1, hidden=8, dropout=0.0).eval()
    past, fut = torch.randn(5, 10, 3), torch.randn(5, 7, 1)
    assert m(past, fut).shape == (5,)
    # reading backward: the future LSTM sees t+F first, so its final state = forward pass over the flipped window
    _, (h, _) = m.future(torch.flip(fut, dims=[1]))
    _, (hp, _) = m.past(past)
    manual = m.head(torch.cat([hp[-1], h[-1]], dim=-1)).squeeze(-1)
    assert torch.allclose(manual, m(past, fut))
    with pytest.raises(ValueError):
        m(past, None)
    assert OneWayLSTM(3, hidden=8)(past).shape == (5,)
    assert WindowMLP(30, 7, hidden=8)(past, fut).shape == (5,)


def test_pastfuture_beats_oneway_when_target_depends_on_future():
    torch.set_num_threads(1)
    past, future, y = _data()
    pf = _fit(PastFutureLSTM(1, 1, hidden=16, dropout=0.0), past, future, y)
    ow = _fit(OneWayLSTM(1, hidden=16, dropout=0.0), past, future, y)
    assert pf < 0.5 * ow, (pf, ow)
    assert pf < 0.3
