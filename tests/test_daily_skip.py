"""S1 daily LSTM's optional linear skip (issue #3): parameters, default unchanged, extrapolation
beyond the training driver range, config errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from daily_synth import make_daily_dataset
from soilco2.config import load_config
from soilco2.daily.config import DailyConfig
from soilco2.daily.model import new_model
from soilco2.daily.run import load_members, prepare
from soilco2.errors import UserError
from soilco2.models.lstm import DailyLSTM, weighted_masked_mse
from soilco2.training import train

PLAIN_KEYS = {
    "input_layer.weight",
    "input_layer.bias",
    "lstm.weight_ih_l0",
    "lstm.weight_hh_l0",
    "lstm.bias_ih_l0",
    "lstm.bias_hh_l0",
    "head.weight",
    "head.bias",
}


def _n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_parameter_count_per_mode():
    n_dyn, n_stat = 5, 3
    plain = _n_params(DailyLSTM(n_dyn, n_stat, 8))
    assert _n_params(DailyLSTM(n_dyn, n_stat, 8, linear_skip="global")) == plain + n_dyn
    assert _n_params(DailyLSTM(n_dyn, n_stat, 8, linear_skip="static")) == plain + (n_stat + 1) * n_dyn
    assert _n_params(DailyLSTM(n_dyn, n_stat, 8, linear_skip="static", skip_index=[0, 2])) == plain + (n_stat + 1) * 2
    assert set(DailyLSTM(n_dyn, n_stat, 8).state_dict()) == PLAIN_KEYS  # old checkpoints still fit
    with pytest.raises(ValueError):
        DailyLSTM(n_dyn, n_stat, 8, linear_skip="quadratic")


def test_default_is_bit_identical_and_untrained_skip_is_plain_lstm():
    x, s = torch.rand(3, 12, 5), torch.rand(3, 2)
    torch.manual_seed(7)
    old = DailyLSTM(5, 2, 16, 0.0)
    torch.manual_seed(7)
    new = DailyLSTM(5, 2, 16, 0.0, linear_skip="none")
    assert all(torch.equal(old.state_dict()[k], new.state_dict()[k]) for k in PLAIN_KEYS)
    assert torch.equal(old(x, s), new(x, s))
    for mode in ("global", "static"):  # skip weights start at zero; the LSTM's init is unchanged
        torch.manual_seed(7)
        skip = DailyLSTM(5, 2, 16, 0.0, linear_skip=mode)
        assert torch.equal(old(x, s), skip(x, s))


def test_pipeline_default_unchanged_and_skip_drivers(tmp_path):
    ds = make_daily_dataset(n_sites=3, years=2, seed=2)
    base = {"model": {"hidden_size": 8, "dropout": 0.0}, "training": {"ensemble": 1, "window_days": 30}}
    cfg = DailyConfig.model_validate(base)
    _, a, _ = prepare(cfg, ds=ds)
    torch.manual_seed(0)
    m_old = new_model(a, cfg.model)
    torch.manual_seed(0)
    m_none = new_model(a, DailyConfig.model_validate(base | {"model": base["model"] | {"linear_skip": "none"}}).model)
    assert set(m_none.state_dict()) == PLAIN_KEYS
    assert all(torch.equal(v, m_none.state_dict()[k]) for k, v in m_old.state_dict().items())
    drivers = a.dynamic_features[:2]
    mc = DailyConfig.model_validate(
        base | {"model": base["model"] | {"linear_skip": "global", "skip_drivers": drivers}}
    ).model
    assert _n_params(new_model(a, mc)) == _n_params(m_old) + 2
    bad = mc.model_copy(update={"skip_drivers": ["no_such_driver"]})
    with pytest.raises(UserError, match="model.skip_drivers"):
        new_model(a, bad)
    # a skip run's checkpoint reloads through load_members; a plain run's config does not fit it
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    skip = new_model(a, mc)
    torch.save(skip.state_dict(), run / "checkpoints" / "member_0.pt")
    skip_cfg = cfg.model_copy(update={"model": mc})
    (loaded,) = load_members(run, skip_cfg, a)
    assert all(torch.equal(v, loaded.model.state_dict()[k]) for k, v in skip.state_dict().items())
    with pytest.raises(UserError, match="does not fit"):
        load_members(run, cfg, a)


@pytest.mark.parametrize(
    "model,field",
    [
        ({"linear_skip": "quadratic"}, "linear_skip"),
        ({"linear_skip": "global", "skip_drivers": []}, "skip_drivers"),
        ({"skip_driver": ["soil_temp_c"]}, "skip_driver"),
        ({"skip_drivers": ["soil_temp_c"]}, "model"),
    ],
)  # without a skip
def test_bad_yaml_names_field(tmp_path, model, field):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump({"model": model}))
    with pytest.raises(UserError) as err:
        load_config(path, DailyConfig)
    assert field in str(err.value) and "cfg.yaml" in str(err.value)


def _synthetic(n_sites: int, steps: int, lo: float, hi: float, rng: np.random.Generator, site_slope: bool):
    """Driver T (scaled) as a random smooth walk inside [lo, hi]; one static attribute per site;
    y = 0.1 + b · T, a log-linear (Q10-like) law in scaled space, with b = 1.5 or, when
    ``site_slope``, b = 1 + attribute (the sensitivity depends on the site)."""
    walk = np.cumsum(rng.normal(0, 0.15, (n_sites, steps)), axis=1)
    walk = (walk - walk.min(1, keepdims=True)) / np.ptp(walk, axis=1, keepdims=True)
    t = lo + (hi - lo) * walk
    attr = rng.uniform(0, 1, (n_sites, 1))
    y = 0.1 + ((1 + attr) if site_slope else 1.5) * t
    return (
        torch.tensor(t[..., None], dtype=torch.float32),
        torch.tensor(attr, dtype=torch.float32),
        torch.tensor(y, dtype=torch.float32),
    )


def _fit_and_test_mse(mode: str, site_slope: bool) -> float:
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    x, s, y = _synthetic(16, 60, 0.0, 0.5, rng, site_slope)  # training: T in [0, 0.5]
    x_test, s_test, y_test = _synthetic(16, 60, 0.8, 1.0, rng, site_slope)  # test: T in [0.8, 1], never seen
    torch.manual_seed(0)
    model = DailyLSTM(1, 1, hidden_size=8, dropout=0.0, linear_skip=mode)
    w = torch.ones_like(y)

    def batches(_rng):
        yield (x, s), y, w

    train(
        model,
        batches,
        lambda m: float(weighted_masked_mse(m(x, s), y, w)),
        epochs=400,
        lr=1e-2,
        patience=400,
        seed=0,
        loss_fn=weighted_masked_mse,
        show_progress=False,
    )
    model.eval()
    with torch.no_grad():
        return float(((model(x_test, s_test) - y_test) ** 2).mean())


def test_linear_skip_extrapolates_beyond_training_range():
    mse = {mode: _fit_and_test_mse(mode, site_slope=False) for mode in ("none", "global", "static")}
    # the plain LSTM flattens out above the training range; the linear path carries the law on
    assert mse["global"] < 0.5 * mse["none"], mse
    assert mse["static"] < 0.5 * mse["none"], mse


def test_static_skip_extrapolates_site_dependent_sensitivity():
    mse = {mode: _fit_and_test_mse(mode, site_slope=True) for mode in ("none", "global", "static")}
    assert mse["static"] < 0.5 * min(mse["none"], mse["global"]), mse
