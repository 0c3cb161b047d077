"""Limits on what refups allocates for sizes and counts it is given.

Kernel sizes, filter counts and array shapes arrive as arguments or inside
files, where a few bytes can ask for terabytes. Before allocating, refups
estimates the bytes a request implies and raises a ValueError naming the
argument or entry when it is over a limit. The limits are generous for real
use (Cool-chic uses kernels of 4 to 8 taps and at most a handful of filters):

=========================  ===================================================
:data:`MAX_KERNEL_SIZE`    largest kernel size, 4096 (so half-kernels of at
                           most 2048 values)
:data:`MAX_FILTERS`        largest number of filters of one kind, 4096
:data:`MAX_PARAMETERS`     most entries in a parameter file, 65536
:data:`MAX_JSON_BYTES`     largest JSON file read, 64 MiB
:data:`MAX_JSON_DEPTH`     deepest nesting of a JSON file, 64 levels
:data:`MAX_NPY_HEADER`     largest ``.npy`` header, 10000 bytes (NumPy's own)
:func:`max_bytes`          largest single allocation: 4 GiB, or the
                           environment variable ``REFUPS_MAX_BYTES``
=========================  ===================================================

Examples
--------
>>> check_kernel_size_limit(8, "ups_k_size")
8
>>> check_allocation(2**40, "latent.npy")
Traceback (most recent call last):
...
ValueError: latent.npy would need 1 TiB, over the limit of 4 GiB (set REFUPS_MAX_BYTES to change it)
"""

import os

__all__ = [
    "DEFAULT_MAX_BYTES",
    "MAX_FILTERS",
    "MAX_JSON_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_KERNEL_SIZE",
    "MAX_NPY_HEADER",
    "MAX_PARAMETERS",
    "check_allocation",
    "check_count_limit",
    "check_kernel_size_limit",
    "format_bytes",
    "max_bytes",
]

#: Largest kernel size (upsampling or pre-concatenation) refups builds.
MAX_KERNEL_SIZE = 4096

#: Largest number of filters of one kind (``n_ups_kernel``, ``n_ups_preconcat_kernel``).
MAX_FILTERS = 4096

#: Most entries in a parameter file (``.json``, ``.npz`` or ``.pt``).
MAX_PARAMETERS = 65536

#: Largest JSON file refups reads (parameters, manifests).
MAX_JSON_BYTES = 64 << 20

#: Deepest nesting of arrays and objects in a JSON file.
MAX_JSON_DEPTH = 64

#: Largest ``.npy`` header, in bytes (NumPy's default ``max_header_size``).
MAX_NPY_HEADER = 10000

#: Largest single allocation unless ``REFUPS_MAX_BYTES`` says otherwise.
DEFAULT_MAX_BYTES = 4 << 30

ENVIRONMENT_VARIABLE = "REFUPS_MAX_BYTES"


def max_bytes():
    """The allocation limit in bytes: ``REFUPS_MAX_BYTES`` if set, else 4 GiB.

    Examples
    --------
    >>> max_bytes() == int(os.environ.get("REFUPS_MAX_BYTES", DEFAULT_MAX_BYTES))
    True
    """
    text = os.environ.get(ENVIRONMENT_VARIABLE)
    if text is None:
        return DEFAULT_MAX_BYTES
    if not text.strip().isdigit() or int(text) < 1:
        raise ValueError(f"{ENVIRONMENT_VARIABLE} must be a whole number of bytes >= 1; got {text!r}")
    return int(text)


def format_bytes(n):
    """``n`` bytes in the largest binary unit that keeps it >= 1, with at most two decimals.

    Examples
    --------
    >>> format_bytes(512), format_bytes(3 << 30), format_bytes(1536), format_bytes(2**80)
    ('512 bytes', '3 GiB', '1.5 KiB', '1048576 EiB')
    """
    if n < 1024:
        return f"{n} bytes"
    value = n / 1024
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024:
            break
        value /= 1024
    else:
        unit = "EiB"
    return f"{value:.2f}".rstrip("0").rstrip(".") + f" {unit}"


def check_allocation(nbytes, what):
    """Return ``nbytes`` if it is within :func:`max_bytes`, else raise a ValueError naming ``what``."""
    limit = max_bytes()
    if nbytes > limit:
        raise ValueError(f"{what} would need {format_bytes(nbytes)}, over the limit of "
                         f"{format_bytes(limit)} (set {ENVIRONMENT_VARIABLE} to change it)")
    return nbytes


def check_kernel_size_limit(k, name):
    """Return ``k`` if it is at most :data:`MAX_KERNEL_SIZE`, else raise a ValueError naming ``name``.

    Examples
    --------
    >>> check_kernel_size_limit(4000000000, "--k")
    Traceback (most recent call last):
    ...
    ValueError: --k must be at most 4096 (refups.limits.MAX_KERNEL_SIZE); got 4000000000
    """
    if k > MAX_KERNEL_SIZE:
        raise ValueError(f"{name} must be at most {MAX_KERNEL_SIZE} (refups.limits.MAX_KERNEL_SIZE); got {k}")
    return k


def check_count_limit(n, name):
    """Return ``n`` if it is at most :data:`MAX_FILTERS`, else raise a ValueError naming ``name``.

    Examples
    --------
    >>> check_count_limit(10**12, "n_ups_kernel")
    Traceback (most recent call last):
    ...
    ValueError: n_ups_kernel must be at most 4096 (refups.limits.MAX_FILTERS); got 1000000000000
    """
    if n > MAX_FILTERS:
        raise ValueError(f"{name} must be at most {MAX_FILTERS} (refups.limits.MAX_FILTERS); got {n}")
    return n
