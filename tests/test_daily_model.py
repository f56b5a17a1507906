"""S1 daily LSTM on synthetic data with a known generating law (see tests/daily_synth.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from daily_synth import make_daily_dataset, true_flux
from soilco2.daily.arrays import TEST, TRAIN, site_loss_weights
from soilco2.daily.config import DailyConfig
from soilco2.daily.members import train_member
from soilco2.daily.model import new_model, predict_scaled
from soilco2.daily.outputs import performance_class
from soilco2.daily.run import prepare
from soilco2.daily.sampling import batch_sampler
from soilco2.metrics import nse
from soilco2.models.lstm import DailyLSTM, mse_std_loss, weighted_masked_mse


def _cfg(**training) -> DailyConfig:
    base = {
        "window_days": 30,
        "warmup_days": 30,
        "batch_size": 32,
        "batches_per_epoch": 25,
        "epochs": 8,
        "patience": 8,
        "ensemble": 1,
        "threads": 1,
    }
    return DailyConfig.model_validate({"model": {"hidden_size": 32, "dropout": 0.0}, "training": base | training})


@pytest.fixture(scope="module")
def synth():
    ds = make_daily_dataset(n_sites=6, years=3, seed=1)
    _, a, scaler = prepare(_cfg(), ds=ds)
    return ds, a, scaler


def test_forward_shape_and_static_every_step():
    m = DailyLSTM(n_dynamic=3, n_static=2, hidden_size=8, dropout=0.0)
    x = torch.zeros(4, 10, 3)
    s1, s2 = torch.zeros(4, 2), torch.ones(4, 2)
    assert m(x, s1).shape == (4, 10)
    assert not torch.allclose(m(x, s1)[:, -1], m(x, s2)[:, -1])  # statics reach the last step


def test_weighted_masked_mse_known_answer():
    pred = torch.tensor([[1.0, 2.0, 3.0]])
    target = torch.tensor([[0.0, float("nan"), 1.0]])
    w = torch.tensor([[1.0, 0.0, 0.5]])
    # (1 * 1 + 0.5 * 4) / 2 scored points
    assert float(weighted_masked_mse(pred, target, w)) == pytest.approx(1.5)


def test_std_loss_penalises_flat_predictions():
    target = torch.tensor([[0.0, 1.0, 0.0, 1.0]])
    w = torch.ones(1, 4)
    flat = torch.full((1, 4), 0.5)
    assert float(weighted_masked_mse(flat, target, w)) == pytest.approx(0.25)
    # a flat prediction has std 0 against an observed std of 0.5: penalty 0.25
    assert float(mse_std_loss(flat, target, w, std_weight=1.0)) == pytest.approx(0.5, abs=1e-4)
    assert float(mse_std_loss(target, target, w)) == pytest.approx(0.0, abs=1e-4)


@pytest.mark.parametrize(
    "nse_, kge_, cls",
    [
        (0.6, 0.4, "good"),
        (0.6, 0.2, "fair"),
        (0.3, 0.5, "fair"),
        (-0.1, 0.5, "poor"),
        (0.6, -0.1, "poor"),
        (np.nan, 0.5, "poor"),
    ],
)
def test_performance_class(nse_, kge_, cls):
    assert performance_class(nse_, kge_) == cls


def test_windows_score_training_days_only(synth):
    _, a, _ = synth
    tc = _cfg().training
    batches = batch_sampler(a, site_loss_weights(a, True), tc)
    rng = np.random.default_rng(0)
    n_scored = 0
    for (x, s), y, w in batches(rng):
        assert x.shape == (tc.batch_size, tc.window_days + tc.warmup_days, a.x_dynamic.shape[2])
        assert torch.all(w[:, : tc.warmup_days] == 0)  # warm-up never scored
        scored = w > 0
        assert torch.isfinite(y[scored]).all()
        n_scored += int(scored.sum())
    assert n_scored > 0
    # every scored value is a training-day target: the scaled targets of validation/test days differ
    train_vals = set(np.round(a.y[a.split == TRAIN], 6).tolist())
    for (x, s), y, w in batches(rng):
        assert set(np.round(y[w > 0].numpy(), 6).tolist()) <= train_vals


@pytest.mark.parametrize("how, share0", [("days", (0.01, 0.04)), ("sqrt", (0.045, 0.08)), ("sites", (0.14, 0.2))])
def test_site_sampling_shares(synth, how, share0):
    """With one site cut to 60 training days (the others ~590), its share of the sampled windows
    follows training.site_sampling: 60/3011 = 0.020 by days, 7.7/129.7 = 0.060 by square root,
    1/6 when every site counts equally."""
    import dataclasses

    _, a, _ = synth
    split = a.split.copy()
    train_days = np.flatnonzero(split[0] == TRAIN)
    split[0, train_days[60:]] = -1
    cut = dataclasses.replace(a, split=split)
    batches = batch_sampler(cut, site_loss_weights(cut, True), _cfg(site_sampling=how, batch_size=64).training)
    static = torch.from_numpy(a.x_static)
    counts = np.zeros(a.n_sites)
    for (x, s), y, w in batches(np.random.default_rng(0)):
        site = (s[:, None, :] == static[None]).all(-1).float().argmax(1).numpy()
        counts += np.bincount(site, minlength=a.n_sites)
    assert share0[0] <= counts[0] / counts.sum() <= share0[1]


def test_without_validation_days_every_epoch_runs_and_the_last_is_kept(synth, tmp_path):
    """split.val_fraction 0: no early stopping; all epochs run, the checkpoint is the last epoch's
    weights (the model returned), and no validation loss is reported."""
    ds, _, _ = synth
    cfg = _cfg(epochs=3, patience=1)
    cfg = cfg.model_copy(update={"split": cfg.split.model_copy(update={"val_fraction": 0.0})})
    _, a, _ = prepare(cfg, ds=ds)
    assert not (a.split == 1).any()
    model, res = train_member(a, cfg, 0, checkpoint=tmp_path / "m.pt", show_progress=False)
    assert [h["epoch"] for h in res.history] == [0, 1, 2] and res.best_epoch == 2
    assert np.isnan(res.best_val_loss)
    saved = torch.load(tmp_path / "m.pt", weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize(
    "training",
    [{}, {"precision": "bfloat16"}, {"warmup_gradient": False}],
    ids=["float32", "bfloat16", "truncated-warmup"],
)
def test_lstm_recovers_known_law(synth, training):
    """Trained on 80 % of each site, the LSTM predicts the noise-free law on the test 20 % (also with
    bfloat16 training steps, and with backpropagation cut at the end of the warm-up)."""
    ds, a, scaler = synth
    model, res = train_member(a, _cfg(**training), seed=0, show_progress=False)
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert model.no_grad_steps == (0 if training.get("warmup_gradient", True) else 30)
    sim = a.to_flux(predict_scaled(model, a), scaler)
    truth = true_flux(ds["soil_temp_c"].values, ds["swc_m3_m3"].values, ds.attrs["true_r10"][:, None])
    test = a.split == TEST
    scores = [nse(truth[i, test[i]], sim[i, test[i]]) for i in range(a.n_sites)]
    assert np.median(scores) > 0.7, scores
    assert res.best_epoch >= 0


def test_same_seed_same_model(synth):
    _, a, _ = synth
    cfg = _cfg(epochs=2, batches_per_epoch=5)
    p1 = predict_scaled(train_member(a, cfg, seed=3, show_progress=False)[0], a)
    p2 = predict_scaled(train_member(a, cfg, seed=3, show_progress=False)[0], a)
    p3 = predict_scaled(train_member(a, cfg, seed=4, show_progress=False)[0], a)
    np.testing.assert_array_equal(p1, p2)
    assert not np.allclose(np.nan_to_num(p1), np.nan_to_num(p3))


def test_leave_site_out_never_trains_on_test_sites():
    ds = make_daily_dataset(n_sites=6, years=2, seed=3)
    cfg = _cfg(site_anomalies=["soil_temp_c"])
    cfg = cfg.model_copy(update={"split": cfg.split.model_copy(update={"mode": "leave_site_out", "k_folds": 3})})
    _, a, _ = prepare(cfg, ds=ds)
    test_sites = np.flatnonzero((a.split == TEST).any(1))
    assert test_sites.size == 2 and not (a.split[test_sites] == TRAIN).any()
    batches = batch_sampler(a, site_loss_weights(a, True), cfg.training)
    for (x, s), y, w in batches(np.random.default_rng(0)):
        assert float(w.sum()) > 0
    # test sites get a target level from the statics, not from their own observations
    assert np.isfinite(a.y_mean[test_sites]).all()
    assert "soil_temp_c_site_anomaly" in a.dynamic_features


def test_cosine_schedule_decays_lr_to_zero():
    """training.train with lr_schedule='cosine': the last epoch's steps barely move the weights."""
    from soilco2.training import train

    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([1.0, -2.0, 0.5])
    model = torch.nn.Linear(3, 1)
    seen = []

    def batches(rng):
        seen.append(model.weight.detach().clone())
        yield (x,), y[:, None], torch.ones(64, 1)

    res = train(
        model, batches, lambda m: -len(seen), epochs=6, lr=0.1, patience=10, lr_schedule="cosine", show_progress=False
    )
    steps = [float((b - a).abs().sum()) for a, b in zip(seen, seen[1:] + [model.weight.detach()])]
    assert res.best_epoch == 5 and steps[-1] < 0.1 * steps[0]


def test_average_last_keeps_the_mean_of_the_last_epochs_weights(synth):
    """training.average_last (no validation days): the kept weights are the mean of the last k
    epochs' weights — checked against the per-epoch weights recorded by a second, identical run."""
    from soilco2.training import train

    ds, _, _ = synth
    cfg = _cfg(epochs=4)
    cfg = cfg.model_copy(update={"split": cfg.split.model_copy(update={"val_fraction": 0.0})})
    _, a, _ = prepare(cfg, ds=ds)
    avg_model, _ = train_member(
        a,
        cfg.model_copy(update={"training": cfg.training.model_copy(update={"average_last": 2})}),
        0,
        show_progress=False,
    )
    # the same run, keeping each epoch's weights
    from soilco2.daily.model import new_model
    from soilco2.training import set_seed

    set_seed(0)
    model = new_model(a, cfg.model)
    states = []
    train(
        model,
        batch_sampler(a, site_loss_weights(a, True), cfg.training),
        None,
        epochs=4,
        lr=cfg.training.lr,
        seed=0,
        loss_fn=weighted_masked_mse,
        show_progress=False,
        on_epoch=lambda done, total, info: states.append({k: v.clone() for k, v in model.state_dict().items()}),
    )
    for k, v in avg_model.state_dict().items():
        assert torch.allclose(v, (states[2][k] + states[3][k]) / 2, atol=1e-6)


def test_recency_weights_known_answer(synth):
    """Half-life 2 days over training days at ages 3, 2, 1, 0 (days before the training end):
    2^-1.5, 2^-1, 2^-0.5, 1, scaled to a mean of 1; other days weigh 0."""
    import dataclasses

    from soilco2.daily.sampling import recency_weights

    _, a, _ = synth
    split = np.full(a.split.shape, -1, np.int8)
    split[:, 10:14] = TRAIN
    split[:, 14:20] = TEST
    cut = dataclasses.replace(a, split=split, train_end=np.full(a.n_sites, 14))
    w = recency_weights(cut, 2.0)
    raw = 2.0 ** -np.array([1.5, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(w[:, 10:14], np.tile(raw / raw.mean(), (a.n_sites, 1)), rtol=1e-6)
    assert (w[:, :10] == 0).all() and (w[:, 14:] == 0).all()
    assert (recency_weights(cut, None) == 1).all()


def test_site_finetuning_learns_what_the_statics_do_not_tell(synth):
    """Each site has its own temperature sensitivity (Q10 1.3 … 4) that no input reveals: the
    all-site model can only learn an average law; per-site fine-tuning (training.finetune_steps)
    recovers each site's law — test error against the noise-free truth falls at most sites."""
    from soilco2.daily.finetune import finetune_sites
    from soilco2.daily.members import fit_member

    ds, _, _ = synth
    ds = ds.copy()
    q10 = np.array([1.3, 4.0, 1.6, 3.2, 2.0, 2.6])
    temp, swc = ds["soil_temp_c"].values, ds["swc_m3_m3"].values
    truth = q10[:, None] ** ((temp - 10.0) / 10.0) * swc / (swc + 0.1)
    ds["flux_umol_m2_s"] = ds["flux_umol_m2_s"].where(np.isnan(ds["flux_umol_m2_s"]), truth.astype(np.float32))
    cfg = _cfg(finetune_steps=40, finetune_lr=3e-3)
    cfg = cfg.model_copy(update={"model": cfg.model.model_copy(update={"static_inputs": []})})
    _, a, scaler = prepare(cfg, ds=ds)
    member, _ = fit_member(a, cfg, seed=0, show_progress=False)
    assert set(member.site_states) == set(a.sites)
    before = {k: v.clone() for k, v in member.model.state_dict().items()}
    test = a.split == TEST
    err_all = a.to_flux(predict_scaled(member.model, a), scaler) - truth
    err_site = a.to_flux(member.predict(a), scaler) - truth
    rmse = lambda e: np.sqrt(np.nanmean(np.where(test, e, np.nan) ** 2, axis=1))  # noqa: E731
    assert (rmse(err_site) < rmse(err_all)).sum() >= 5, (rmse(err_all), rmse(err_site))
    assert np.median(rmse(err_site)) < 0.7 * np.median(rmse(err_all))
    # the all-site weights are left as they were; a site without training days is not fine-tuned
    assert all(torch.equal(v, member.model.state_dict()[k]) for k, v in before.items())
    import dataclasses

    split = a.split.copy()
    split[0][split[0] == TRAIN] = TEST
    no_train = dataclasses.replace(a, split=split)
    assert set(finetune_sites(member.model, no_train, cfg, 0, site_loss_weights(no_train, True))) == set(a.sites[1:])


def test_finetuning_stage_has_its_own_recency_halflife(synth, monkeypatch):
    """training.finetune_halflife_days weights the fine-tuning windows; unset, the all-site half-life."""
    import soilco2.daily.finetune as finetune
    from soilco2.daily.finetune import finetune_sites

    _, a, _ = synth
    seen = []
    real = finetune.batch_sampler

    def spy(a_, weights, tc):
        seen.append(tc.recency_halflife_days)
        return real(a_, weights, tc)

    monkeypatch.setattr(finetune, "batch_sampler", spy)
    model = new_model(a, _cfg().model)
    for extra, expected in (({"finetune_halflife_days": 90}, 90), ({}, 365)):
        seen.clear()
        cfg = _cfg(finetune_steps=1, recency_halflife_days=365, **extra)
        finetune_sites(model, a, cfg, 0, site_loss_weights(a, True))
        assert seen == [expected] * a.n_sites


def test_warmup_without_gradient_same_output_no_gradient_before_the_cut():
    """no_grad_steps = k: the same forward values, and the scored days' loss sends no gradient to
    the first k days' inputs (truncated backpropagation); eval mode ignores it."""
    torch.manual_seed(0)
    m = DailyLSTM(n_dynamic=3, n_static=2, hidden_size=8, dropout=0.0).train()
    x, s = torch.randn(4, 12, 3, requires_grad=True), torch.randn(4, 2)
    full = m(x, s)
    full[:, 5:].sum().backward()
    g_full = x.grad.clone()
    x.grad = None
    m.no_grad_steps = 5
    cut = m(x, s)
    torch.testing.assert_close(cut, full)
    cut[:, 5:].sum().backward()
    assert g_full[:, :5].abs().sum() > 0 and x.grad[:, :5].abs().sum() == 0
    assert x.grad[:, 5:].abs().sum() > 0
    with torch.no_grad():
        torch.testing.assert_close(m.eval()(x, s), full.detach())


def test_finetuning_copies_train_as_the_all_site_model(synth, monkeypatch):
    """training.warmup_gradient and training.precision reach every site's fine-tuning copy, also
    when the all-site model comes from a checkpoint (no_grad_steps not set)."""
    import soilco2.training as training_mod
    from soilco2.daily.members import finetune_member
    from soilco2.daily.model import new_model

    _, a, _ = synth
    cfg = _cfg(warmup_gradient=False, precision="bfloat16", finetune_steps=1)
    seen = []
    real = training_mod.train

    def spy(m, *args, **kw):
        seen.append((m.no_grad_steps, kw["precision"]))
        return real(m, *args, **kw)

    monkeypatch.setattr(training_mod, "train", spy)
    finetune_member(new_model(a, cfg.model), a, cfg, 0)
    assert seen == [(cfg.training.warmup_days, "bfloat16")] * a.n_sites


def test_finetuning_dropout_reaches_the_site_copies_only(synth, monkeypatch):
    """training.finetune_dropout sets the dropout of every site's copy (the head's, and the LSTM's
    between stacked layers) while it fine-tunes; the all-site model keeps model.dropout."""
    import soilco2.training as training_mod
    from soilco2.daily.config import DailyConfig
    from soilco2.daily.members import finetune_member
    from soilco2.daily.model import new_model

    _, a, _ = synth
    seen = []
    real = training_mod.train

    def spy(m, *args, **kw):
        seen.append((m.dropout.p, m.lstm.dropout))
        return real(m, *args, **kw)

    monkeypatch.setattr(training_mod, "train", spy)
    for layers, ft_dropout, expected in ((1, None, (0.3, 0.0)), (1, 0.0, (0.0, 0.0)), (2, 0.05, (0.05, 0.05))):
        seen.clear()
        cfg = _cfg(finetune_steps=1, finetune_dropout=ft_dropout)
        cfg = DailyConfig.model_validate(
            cfg.model_dump() | {"model": {"hidden_size": 8, "dropout": 0.3, "num_layers": layers}}
        )
        model = new_model(a, cfg.model)
        finetune_member(model, a, cfg, 0)
        assert seen == [expected] * a.n_sites
        assert (model.dropout.p, model.lstm.dropout) == (0.3, 0.3 if layers > 1 else 0.0)


def test_stacked_layers_add_weights_and_keep_the_one_layer_checkpoint_keys():
    """model.num_layers = 2 stacks a second LSTM layer (its own l1 weights); the default keeps the
    one-layer state-dict keys, so older checkpoints load."""
    one, two = (DailyLSTM(3, 2, hidden_size=8, dropout=0.1, num_layers=k) for k in (1, 2))
    k1, k2 = set(one.state_dict()), set(two.state_dict())
    assert k1 < k2 and {k.rsplit("_", 1)[-1] for k in k2 - k1} == {"l1"}
    assert two(torch.zeros(4, 10, 3), torch.zeros(4, 2)).shape == (4, 10)


def test_target_arcsinh_scale_refits_on_training_days_and_inverts(synth):
    """``target_arcsinh_scale``: the target becomes arcsinh(flux / scale), min–max over the
    training days only; the model-space target maps back to the observed flux exactly."""
    ds, a0, _ = synth
    _, a, scaler = prepare(_cfg(target_arcsinh_scale=0.25), ds=ds)
    s = scaler.variables["flux_umol_m2_s"]
    obs = ds["flux_umol_m2_s"].transpose("site", "time").values
    train = np.arcsinh(obs[a.split == TRAIN] / 0.25)
    assert s.scale == 0.25 and (s.min, s.max) == (pytest.approx(train.min()), pytest.approx(train.max()))
    seen = np.isfinite(a.y)
    np.testing.assert_allclose(a.to_flux(a.y, scaler)[seen], obs[seen], rtol=1e-5)
    np.testing.assert_array_equal(a.split, a0.split)


def test_trailing_means_are_past_only_window_means(synth):
    """training.trailing_means: a channel holding the scaled driver's mean over the trailing days of
    the site's span (fewer days at its start), never a later day."""
    ds, _, scaler = synth
    _, a, _ = prepare(_cfg(trailing_means={"soil_temp_c": 10}), ds=ds, scaler=scaler)
    x = a.x_dynamic[..., a.dynamic_features.index("soil_temp_c")]
    m = a.x_dynamic[..., a.dynamic_features.index("soil_temp_c_mean10d")]
    i, s = 0, a.start[0]
    np.testing.assert_allclose(m[i, s], x[i, s], rtol=1e-6)
    np.testing.assert_allclose(m[i, s + 3], x[i, s : s + 4].mean(), rtol=1e-5)
    np.testing.assert_allclose(m[i, s + 40], x[i, s + 31 : s + 41].mean(), rtol=1e-5)
    with pytest.raises(Exception, match="trailing_means"):
        prepare(_cfg(trailing_means={"no_such_driver": 10}), ds=ds, scaler=scaler)


def test_input_noise_leaves_flags_and_padding_alone(synth):
    """training.input_noise: Gaussian noise on the scaled drivers of each window, none on the 0/1
    availability flags or on the padding before a site's span."""
    _, a, _ = synth
    w = site_loss_weights(a, True)
    clean = _cfg(batch_size=64, batches_per_epoch=1).training
    (x0, _), _, _ = next(batch_sampler(a, w, clean)(np.random.default_rng(0)))
    (x1, _), _, _ = next(batch_sampler(a, w, clean.model_copy(update={"input_noise": 0.1}))(np.random.default_rng(0)))
    diff = (x1 - x0).numpy()
    flags = [j for j, f in enumerate(a.dynamic_features) if f.startswith("avail_")]
    drivers = [j for j in range(len(a.dynamic_features)) if j not in flags]
    assert flags and not diff[..., flags].any()
    moved = diff[..., drivers][np.abs(diff[..., drivers]) > 0]
    assert abs(moved.std() - 0.1) < 0.01
    assert (np.abs(diff).sum(-1) == 0).any()  # padding days before a span start stay zero
