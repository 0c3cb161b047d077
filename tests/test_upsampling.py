"""The Upsampling module: pyramid traversal, channel order, sharing, parameters
(spec S6, S8, S9)."""

from collections import OrderedDict

import numpy as np
import pytest
from helpers import optional
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from refups import Upsampling
from refups.layers import UpsamplingSeparableSymmetricConvTranspose2d
from refups.naive import upsampling_naive
from refups.testing import latent_pyramids, upsamplings


def full_kernels(up):
    return [layer.kernel for layer in up.conv_transpose2ds], [layer.kernel for layer in up.conv2ds]


def constant_pyramid(values, H0=8, W0=8, B=1):
    """One channel per level, level i constant ``values[i]``, sides ceil-halved."""
    latents, H, W = [], H0, W0
    for value in values:
        latents.append(np.full((B, 1, H, W), float(value)))
        H, W = -(-H // 2), -(-W // 2)
    return latents


def test_s6_1_channel_order_finest_first():
    # Bilinear k=4 keeps constants; the Dirac pre-filter doubles: level i < L-1
    # comes out as 2 v_i, the coarsest as v_{L-1}, in input order.
    up = Upsampling(4, 3, 3, 3)
    out = up(constant_pyramid([1, 10, 100, 1000]))  # (1, 4, 8, 8)
    assert out.shape == (1, 4, 8, 8)
    assert_array_equal(out[0, :, 0, 0], [2, 20, 200, 1000])
    assert_array_equal(out, out[:, :, :1, :1] * np.ones((1, 4, 8, 8)))


@pytest.mark.parametrize("n_ups, n_pre", [(1, 1), (2, 3), (3, 3), (5, 6), (2, 1)])
@pytest.mark.parametrize("L", [2, 3, 4])
def test_s6_2_s6_3_filter_index_per_transition(L, n_ups, n_pre):
    # Scaled bilinear upsampling filter a: constant gain a^2. Pre-filter of size 1
    # with half-kernel (b,): Z = X + b^2 X. Filter idx % n works on transition idx,
    # idx = 0 being y_{L-1} -> y_{L-2}.
    a = [2.0 ** i for i in range(n_ups)]
    b = [float(j + 1) for j in range(n_pre)]
    up = Upsampling(4, 1, n_ups, n_pre)
    for layer, scale in zip(up.conv_transpose2ds, a):
        layer.weight = [scale / 4, 3 * scale / 4]
    for layer, value in zip(up.conv2ds, b):
        layer.weight = [value]
    values = [3.0 ** level for level in range(L)]
    out = up(constant_pyramid(values))

    def ups_gain(first_idx):  # transitions first_idx .. L-2 upsample this channel
        return np.prod([a[idx % n_ups] ** 2 for idx in range(first_idx, L - 1)])

    expected = [values[level] * (1 + b[(L - 2 - level) % n_pre] ** 2) * ups_gain(L - 1 - level)
                for level in range(L - 1)]
    expected.append(values[L - 1] * ups_gain(0))
    assert_array_equal(out[0, :, 0, 0], expected)


def test_s6_2_trace_reports_filters_and_levels():
    up = Upsampling(4, 3, 2, 3)
    steps = up.trace(constant_pyramid([1, 2, 3, 4, 5], H0=16, W0=16)).transitions
    assert [(s.index, s.level, s.ups_filter, s.preconcat_filter) for s in steps] == [
        (0, 3, 0, 0), (1, 2, 1, 1), (2, 1, 0, 2), (3, 0, 1, 0),
    ]


@given(latent_pyramids(min_levels=3, max_levels=5, max_side=12), st.data())
def test_s6_4_zero_channel_level_stops_the_loop(latents, data):
    stop = data.draw(st.integers(0, len(latents) - 2), label="stop")
    latents[stop] = latents[stop][:, :0]
    up = Upsampling(6, 3, 2, 2)
    out = up(latents)
    # The result is that of the pyramid above the empty level, at its resolution;
    # every level below (finer) is dropped.
    assert_array_equal(out, up(latents[stop + 1:]))
    assert out.shape[2:] == latents[stop + 1].shape[2:]
    assert out.shape[1] == sum(y.shape[1] for y in latents[stop + 1:])
    assert_allclose(out, upsampling_naive(latents, *full_kernels(up)), rtol=1e-12, atol=1e-9)


def test_s6_4_no_filter_needed_above_an_empty_level():
    # Only the empty level separates y_2 from the rest: no transition runs, so
    # counts of 0 are fine and y_2 comes back unchanged.
    latents = [np.ones((1, 1, 4, 4)), np.ones((1, 0, 2, 2)), np.full((1, 2, 1, 1), 7.0)]
    assert_array_equal(Upsampling(4, 1, 0, 0)(latents), latents[2])


@given(latent_pyramids(max_levels=1, max_side=6, max_channels=3))
def test_s6_5_one_level_returns_a_copy(latents):
    up = Upsampling(8, 7, 0, 0)
    out = up(latents)
    assert_array_equal(out, latents[0])
    out += 1  # a copy: the caller's array is untouched
    assert not np.shares_memory(out, latents[0])


@given(latent_pyramids(min_levels=2, max_levels=3, max_side=10, min_channels=2, max_channels=3),
       upsamplings(max_kernels=2))
def test_s6_6_each_channel_filtered_independently(latents, up):
    out = up(latents)
    C0 = latents[0].shape[1]
    for c in range(C0):
        alone = up([latents[0][:, c:c + 1]] + latents[1:])
        assert_array_equal(out[:, c], alone[:, 0])
    # The upsampled channels do not depend on the finer level's channels.
    assert_array_equal(out[:, C0:], up([latents[0][:, :1]] + latents[1:])[:, 1:])


@given(latent_pyramids(min_levels=2, max_levels=4, max_side=15), upsamplings(max_kernels=2))
def test_s6_7_odd_sizes_keep_the_top_left_crop(latents, up):
    trace = up.trace(latents)
    assert trace.output.shape[2:] == latents[0].shape[2:]
    for step in trace.transitions:
        coarse = latents[step.level + 1] if step.index == 0 else trace.transitions[step.index - 1].output
        H, W = latents[step.level].shape[2:]
        full = up.conv_transpose2ds[step.ups_filter](coarse)  # (B, C, 2H', 2W')
        assert full.shape[2] in (H, H + 1) and full.shape[3] in (W, W + 1)
        assert_array_equal(step.upsampled, full[:, :, :H, :W])
        assert_array_equal(step.prefiltered, up.conv2ds[step.preconcat_filter](latents[step.level]))
        assert_array_equal(step.output, np.concatenate([step.prefiltered, step.upsampled], axis=1))
    assert_array_equal(trace.output, up(latents))


def test_s6_7_allows_coarse_levels_larger_than_half():
    # 2 H_1 >= H_0 is the rule; a larger coarse level is cropped.
    latents = [np.ones((1, 1, 3, 3)), np.ones((1, 1, 3, 3))]
    assert Upsampling(4, 1, 1, 1)(latents).shape == (1, 2, 3, 3)


def test_s8_get_param_names_order_and_shapes():
    up = Upsampling(8, 7, 2, 3)
    params = up.get_param()
    assert isinstance(params, OrderedDict)
    assert [(name, value.shape) for name, value in params.items()] == [
        ("conv_transpose2ds.0.bias", (1,)),
        ("conv_transpose2ds.0.parametrizations.weight.original", (4,)),
        ("conv_transpose2ds.1.bias", (1,)),
        ("conv_transpose2ds.1.parametrizations.weight.original", (4,)),
        ("conv2ds.0.bias", (1,)),
        ("conv2ds.0.parametrizations.weight.original", (4,)),
        ("conv2ds.1.bias", (1,)),
        ("conv2ds.1.parametrizations.weight.original", (4,)),
        ("conv2ds.2.bias", (1,)),
        ("conv2ds.2.parametrizations.weight.original", (4,)),
    ]


def test_s8_get_param_returns_copies():
    up = Upsampling(4, 3, 1, 1)
    up.get_param()["conv_transpose2ds.0.parametrizations.weight.original"][:] = 9
    assert_array_equal(up.conv_transpose2ds[0].weight, [0.25, 0.75])


@given(upsamplings())
def test_s8_set_param_round_trip(source):
    params = source.get_param()
    up = Upsampling(source.ups_k_size, source.ups_preconcat_k_size,
                    source.n_ups_kernel, source.n_ups_preconcat_kernel)
    up.set_param(params)
    for (name, value), (name2, value2) in zip(params.items(), up.get_param().items()):
        assert name == name2
        assert_array_equal(value, value2)
    params[next(iter(params))][:] += 1  # set_param kept its own copy
    assert not np.array_equal(up.get_param()[next(iter(params))], params[next(iter(params))])


def test_s8_set_param_accepts_float32_and_lists():
    up = Upsampling(8, 3, 1, 1)
    params = {name: value.astype(np.float32) for name, value in up.get_param().items()}
    params["conv2ds.0.parametrizations.weight.original"] = [0.5, 0.25]
    up.set_param(params)
    # Cool-chic's float32 parameters load as their exact float64 values (S9).
    assert up.conv_transpose2ds[0].weight[-1] == np.float64(np.float32(-0.8789063))
    assert_array_equal(up.conv2ds[0].weight, [0.5, 0.25])


@given(latent_pyramids(min_levels=2, max_levels=4, max_side=10), upsamplings(), st.floats(-1e6, 1e6))
def test_s8_biases_are_never_applied(latents, up, bias):
    for training in (False, True):
        up.train(training)
        before = up(latents)
        params = up.get_param()
        for name in params:
            if name.endswith(".bias"):
                params[name] = np.array([bias])
        up.set_param(params)
        assert_array_equal(up(latents), before)


@given(latent_pyramids(min_levels=2, max_levels=4, max_side=10), upsamplings(), st.floats(-1e6, 1e6))
def test_s8_parameters_without_biases_are_accepted_and_mean_zero_biases(latents, up, bias):
    params = up.get_param()
    up.set_param({name: value + bias if name.endswith(".bias") else value for name, value in params.items()})
    before = up(latents)
    up.set_param({name: value for name, value in params.items() if not name.endswith(".bias")})
    after = up.get_param()
    assert list(after) == list(params)  # same names, same order
    assert all(np.array_equal(after[name], np.zeros(1) if name.endswith(".bias") else params[name])
               for name in params)
    assert_array_equal(up(latents), before)
    weights = [name for name in params if not name.endswith(".bias")]
    if weights:  # leaving out a weight is still an error
        with pytest.raises(ValueError, match=rf"missing \[{weights[0]!r}"):
            up.set_param({name: params[name] for name in weights[1:]})


def test_s3_reinitialize_parameters():
    up = Upsampling(8, 5, 2, 2)
    initial = up.get_param()
    up.set_param({name: value + 1 for name, value in initial.items()})
    up.reinitialize_parameters()
    for name, value in up.get_param().items():
        assert_array_equal(value, initial[name])


def test_s7_train_and_eval_switch_every_filter():
    up = Upsampling(4, 3, 2, 2)
    assert up.train() is up and up.training
    assert all(layer.training for layer in up.conv_transpose2ds + up.conv2ds)
    assert up.eval() is up and not up.training
    assert not any(layer.training for layer in up.conv_transpose2ds + up.conv2ds)


def test_s7_dense_path_is_really_used_in_training(monkeypatch):
    calls = []
    dense = UpsamplingSeparableSymmetricConvTranspose2d._dense

    def spy(x, kernel, out=None):
        calls.append("dense")
        return dense(x, kernel, out=out)

    monkeypatch.setattr(UpsamplingSeparableSymmetricConvTranspose2d, "_dense", staticmethod(spy))
    up = Upsampling(4, 3, 1, 1)
    latents = constant_pyramid([1, 1], H0=4, W0=4)
    up(latents)
    assert calls == []
    up.train()(latents)
    assert calls == ["dense"]


def test_s9_dtypes():
    up = Upsampling(8, 7, 1, 1)
    f32 = [np.ones((1, 1, 4, 4), np.float32), np.ones((1, 1, 2, 2), np.float32)]
    assert up(f32).dtype == np.float32
    ints = [np.ones((1, 1, 4, 4), np.int32), np.ones((1, 1, 2, 2), np.uint8)]
    assert up(ints).dtype == np.float64
    # Integer levels become float64 first, so a float32 + integer pyramid runs in float64.
    assert up([f32[0], ints[1]]).dtype == np.float64
    assert up([f32[0], ints[1].astype(np.float16)]).dtype == np.float32


@settings(max_examples=5)
@given(latent_pyramids(min_levels=3, max_levels=5, min_side=60, max_side=150, max_channels=3),
       upsamplings(max_kernels=2), st.integers(2, 3))
def test_forward_is_identical_bit_for_bit_whatever_the_workers(latents, up, workers):
    single = up(latents, workers=1)
    assert_array_equal(up(latents, workers=workers), single)
    assert_array_equal(up(latents), single)
    assert_array_equal(up.trace(latents, workers=workers).output, single)


def test_s8_set_param_takes_coolchic_style_torch_tensors():
    torch = optional("torch")
    up = Upsampling(8, 7, 2, 2)
    # As Cool-chic holds them: float32 tensors, possibly requiring gradients.
    params = {name: torch.tensor(value, dtype=torch.float32, requires_grad=True)
              for name, value in up.get_param().items()}
    up.set_param(params)
    weight = up.conv_transpose2ds[1].weight
    assert weight.dtype == np.float64
    assert_array_equal(weight, np.float32([0.0351562, 0.1054687, -0.2617187, -0.8789063]).astype(np.float64))
    # ... within half a float32 ulp of the S3 literals, about 1e-9 to 1e-8 away (S9).
    literals = np.array([0.0351562, 0.1054687, -0.2617187, -0.8789063])
    assert np.all(np.abs(weight - literals) <= np.finfo(np.float32).eps / 2 * np.abs(literals))
