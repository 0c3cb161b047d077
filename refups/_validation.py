"""Input checks shared by the public classes (SPEC S10).

Every message follows one pattern: "<name> must be <expected>; got <found>".
Checks run before any computation, so bad input never produces partial work.
"""

import operator

import numpy as np


def as_real_array(value, name):
    """Return ``value`` as an ndarray with a bool, integer or float dtype.

    PyTorch tensors (anything with ``detach`` and ``cpu``) are converted
    without importing torch, so Cool-chic's ``get_param()`` output loads as is.
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} must be a rectangular numeric array; got {error}") from None
    if array.dtype.kind not in "biuf" or array.dtype.itemsize > 8:
        raise TypeError(
            f"{name} must have a real dtype (bool, integer, float32 or float64); "
            f"got dtype {array.dtype}"
        )
    return array


def compute_dtype(dtype):
    """The floating dtype a computation runs in (SPEC S9).

    float32 and float64 are kept, float16 becomes float32 (SciPy's filters do
    not take it), integers and bools become float64.
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize <= 4:
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def check_count(value, name):
    """Return a filter count as an int ``>= 0`` (SPEC S6, S10)."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer >= 0; got bool {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(
            f"{name} must be an integer >= 0; got {type(value).__name__} {value!r}"
        ) from None
    if count < 0:
        raise ValueError(f"{name} must be an integer >= 0; got {count}")
    return count


def check_channels(x, name="x"):
    """Return ``x`` as a 4-D ``(B, C, H, W)`` float array (float32 or float64)."""
    array = as_real_array(x, name)
    if array.ndim != 4:
        raise ValueError(
            f"{name} must be a 4-D array of shape (B, C, H, W); got shape {array.shape}"
        )
    if array.shape[2] < 1 or array.shape[3] < 1:
        raise ValueError(f"{name} must have H >= 1 and W >= 1; got shape {array.shape}")
    return array.astype(compute_dtype(array.dtype), copy=False)


def check_latents(latents):
    """Validate a latent pyramid (SPEC S6.7, S10).

    Returns the levels converted to their common computation dtype.
    """
    if isinstance(latents, np.ndarray) or not isinstance(latents, (list, tuple)):
        raise TypeError(
            "latents must be a list of 4-D (B, C_i, H_i, W_i) arrays, level 0 finest; "
            f"got {type(latents).__name__}"
        )
    if len(latents) == 0:
        raise ValueError(
            "latents must be a non-empty list of 4-D (B, C_i, H_i, W_i) arrays; got an empty list"
        )
    levels = [check_channels(y, f"latents[{i}]") for i, y in enumerate(latents)]
    B = levels[0].shape[0]
    for i, y in enumerate(levels):
        if y.shape[0] != B:
            raise ValueError(
                f"latents[{i}] must have the batch size B = {B} of latents[0]; "
                f"got shape {y.shape}"
            )
    for i in range(len(levels) - 1):
        _, _, H_fine, W_fine = levels[i].shape
        _, _, H_coarse, W_coarse = levels[i + 1].shape
        if 2 * H_coarse < H_fine or 2 * W_coarse < W_fine:
            raise ValueError(
                f"latents[{i + 1}] must be at least half the size of latents[{i}] "
                f"(2 * H_{i + 1} >= H_{i} and 2 * W_{i + 1} >= W_{i}); got shapes "
                f"{levels[i + 1].shape} and {levels[i].shape}"
            )
    dtype = compute_dtype(np.result_type(*levels))
    return [y.astype(dtype, copy=False) for y in levels]
