"""Input checks shared by the public classes (SPEC S10).

Every message follows one pattern: "<name> must be <expected>; got <found>".
Checks run before any computation, so bad input never produces partial work.
"""

import operator

import numpy as np

from .limits import check_allocation

#: dtype kinds of real numbers: bool, signed and unsigned integers, floats.
REAL_KINDS = ("b", "i", "u", "f")


def as_real_array(value, name):
    """Return ``value`` as an ndarray with a bool, integer or float dtype.

    PyTorch tensors (anything with ``detach`` and ``cpu``) are converted
    without importing torch, so Cool-chic's ``get_param()`` output loads as is.
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    if isinstance(value, range):  # the one sequence that is small until converted
        check_allocation(8 * _range_length(value), name)
    try:
        array = np.asarray(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name} must be a rectangular numeric array; got {error}") from None
    if array.dtype.kind not in REAL_KINDS or array.dtype.itemsize > 8:
        raise TypeError(
            f"{name} must have a real dtype (bool, integer, float32 or float64); "
            f"got dtype {array.dtype}"
        )
    return array


def _range_length(r):
    try:
        return len(r)
    except OverflowError:  # longer than sys.maxsize
        return 2**63


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


def check_channels(x, name):
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
        if H_coarse > H_fine or W_coarse > W_fine:
            raise ValueError(
                f"latents[{i + 1}] must be no larger than latents[{i}]: level 0 is the finest "
                f"(H_{i + 1} <= H_{i} and W_{i + 1} <= W_{i}); got shapes "
                f"{levels[i + 1].shape} and {levels[i].shape}"
            )
        if 2 * H_coarse < H_fine or 2 * W_coarse < W_fine:
            raise ValueError(
                f"latents[{i + 1}] must be at least half the size of latents[{i}] "
                f"(2 * H_{i + 1} >= H_{i} and 2 * W_{i + 1} >= W_{i}); got shapes "
                f"{levels[i + 1].shape} and {levels[i].shape}"
            )
    dtype = compute_dtype(np.result_type(*levels))
    check_allocation(output_nbytes([y.shape for y in levels], dtype), "the output of these latents")
    return [y.astype(dtype, copy=False) for y in levels]


def output_nbytes(shapes, dtype):
    """Bytes of the tensor the module returns for levels of these shapes (S6, S6.4).

    The output has the size of the finest level reached before a level
    without channels stops the loop, and the channels of every level from it.

    Examples
    --------
    >>> output_nbytes([(2, 1, 8, 8), (2, 3, 4, 4)], np.float64)   # 2 * 4 * 8 * 8 * 8
    4096
    >>> output_nbytes([(1, 1, 8, 8), (1, 0, 4, 4), (1, 3, 2, 2)], np.float32)   # level 1 has no channels: level 2 is returned
    48
    """
    first = len(shapes) - 1
    while first > 0 and shapes[first - 1][1] > 0:
        first -= 1
    B, _, H, W = shapes[first]
    channels = sum(shape[1] for shape in shapes[first:])
    return B * channels * H * W * np.dtype(dtype).itemsize


def error_summary(error):
    r"""``"<type>: <first line of the message>"``, or the type alone: one line about an exception.

    >>> error_summary(ValueError("x must be 4-D\nmore"))
    'ValueError: x must be 4-D'
    >>> error_summary(KeyError())
    'KeyError'
    """
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def check_filter_counts(up, n_transitions):
    """Raise a ValueError when the transitions need a kind of filter of which ``up`` has none.

    >>> from refups import Upsampling
    >>> check_filter_counts(Upsampling(4, 3, 0, 1), 0)   # no transition: no filter needed
    >>> check_filter_counts(Upsampling(4, 3, 0, 1), 2)
    Traceback (most recent call last):
    ...
    ValueError: n_ups_kernel must be >= 1 for these latents, which need a upsampling filter for 2 transition(s); got n_ups_kernel = 0
    """
    for count, name, kind in [(up.n_ups_kernel, "n_ups_kernel", "upsampling"),
                              (up.n_ups_preconcat_kernel, "n_ups_preconcat_kernel", "pre-concatenation")]:
        if n_transitions > 0 and count == 0:
            raise ValueError(f"{name} must be >= 1 for these latents, which need a {kind} "
                             f"filter for {n_transitions} transition(s); got {name} = 0")
