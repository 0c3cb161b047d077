"""A small NumPy implementation of the candidate contract, with switchable bugs.

``candidate()`` with no bug is a correct, independent implementation (it
uses np.pad and np.convolve-style slicing, not refups' code). Each bug
reproduces one plausible mistake; ``tests/test_testing.py`` checks that
``refups.testing.check_implementation`` catches every one.
"""

import numpy as np
from scipy import ndimage

BUGS = (
    "zero_padding",            # S4: zero instead of replicate padding
    "crop_off_by_one",         # S4: crop C - 1 samples instead of C
    "concat_order_swapped",    # S6.1: upsampled part first
    "filter_index_clamped",    # S6.3: min(idx, n - 1) instead of idx % n
    "filter_index_reversed",   # S6.2: idx counted from the finest transition
    "bias_applied",            # S8: biases added to the outputs
    "no_residual",             # S5: pre-filter without "+ X"
    "preconcat_replicate",     # S5: replicate instead of zero padding
    "kernel_not_symmetric",    # S1: full kernel = concat(h, h)
    "height_pass_other_kernel",  # S4: height pass with the next transition's kernel
    "odd_crop_bottom_right",   # S6.7: keep the bottom-right crop
    "zero_channel_skipped",    # S6.4: go on past an empty level to full resolution (Cool-chic 4.0)
)


def _full(half, k, bug):
    half = np.asarray(half, dtype=np.float64)
    if bug == "kernel_not_symmetric":
        return np.concatenate([half, half[k % 2:]])
    return np.concatenate([half, half[::-1][k % 2:]])


def _upsample_axis(x, kernel, axis, bug):
    k = len(kernel)
    n = x.shape[axis]
    width = [(0, 0)] * x.ndim
    width[axis] = (k // 2, k // 2)
    xp = np.pad(x, width, mode="constant" if bug == "zero_padding" else "edge")
    shape = list(xp.shape)
    shape[axis] *= 2
    s = np.zeros(shape, dtype=x.dtype)
    index = [slice(None)] * x.ndim
    index[axis] = slice(None, None, 2)
    s[tuple(index)] = xp
    full = ndimage.convolve1d(s, kernel, axis=axis, mode="constant")  # centred at k // 2
    start = k - 1 - (1 if bug == "crop_off_by_one" else 0)
    index[axis] = slice(start, start + 2 * n)
    return full[tuple(index)]


def _preconcat(x, kernel, bug):
    mode = "nearest" if bug == "preconcat_replicate" else "constant"
    y = ndimage.convolve1d(ndimage.convolve1d(x, kernel, axis=-1, mode=mode), kernel, axis=-2, mode=mode)
    return y if bug == "no_residual" else x + y


def candidate(latents, params, config, bug=None):
    """The Upsampling per spec S6, with at most one ``bug`` from :data:`BUGS`."""
    k_up, k_pre = config["ups_k_size"], config["ups_preconcat_k_size"]
    n_up, n_pre = config["n_ups_kernel"], config["n_ups_preconcat_kernel"]
    dtype = np.result_type(*latents, np.float32)
    ups = [_full(params[f"conv_transpose2ds.{i}.parametrizations.weight.original"], k_up, bug).astype(dtype)
           for i in range(n_up)]
    pres = [_full(params[f"conv2ds.{i}.parametrizations.weight.original"], k_pre, bug).astype(dtype)
            for i in range(n_pre)]
    T = len(latents) - 1
    u = np.asarray(latents[-1], dtype=dtype)
    for idx in range(T):
        t = np.asarray(latents[T - 1 - idx], dtype=dtype)
        if t.shape[1] == 0 and bug != "zero_channel_skipped":
            break
        if bug == "filter_index_clamped":
            i_up, i_pre = min(idx, n_up - 1), min(idx, n_pre - 1)
        elif bug == "filter_index_reversed":
            i_up, i_pre = (T - 1 - idx) % n_up, (T - 1 - idx) % n_pre
        else:
            i_up, i_pre = idx % n_up, idx % n_pre
        height_kernel = ups[(i_up + 1) % n_up] if bug == "height_pass_other_kernel" else ups[i_up]
        x = _upsample_axis(_upsample_axis(u, ups[i_up], 3, bug), height_kernel, 2, bug)
        H, W = t.shape[2:]
        x = x[:, :, -H:, -W:] if bug == "odd_crop_bottom_right" else x[:, :, :H, :W]
        h = _preconcat(t, pres[i_pre], bug)
        if bug == "bias_applied":
            x = x + params[f"conv_transpose2ds.{i_up}.bias"][0]
            h = h + params[f"conv2ds.{i_pre}.bias"][0]
        u = np.concatenate([x, h] if bug == "concat_order_swapped" else [h, x], axis=1)
    return u
