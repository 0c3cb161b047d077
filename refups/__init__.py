"""refups: the reference implementation of Cool-chic's latent Upsampling module.

NumPy/SciPy only. The behaviour is specified clause by clause (S1-S12) in
``docs/spec.md``.

>>> import numpy as np, refups
>>> up = refups.Upsampling(ups_k_size=4, ups_preconcat_k_size=1,
...                        n_ups_kernel=1, n_ups_preconcat_kernel=1)
>>> up([np.zeros((1, 1, 4, 4)), np.ones((1, 1, 2, 2))]).shape
(1, 2, 4, 4)
"""

from .kernels import (
    exact_bicubic_half_kernel,
    half_kernel_size,
    initial_preconcat_half_kernel,
    initial_ups_half_kernel,
    kernel_2d,
    symmetric_kernel,
)
from .layers import UpsamplingSeparableSymmetricConv2d, UpsamplingSeparableSymmetricConvTranspose2d
from .upsampling import Transition, Upsampling, UpsamplingTrace

__version__ = "0.2.0"

__all__ = [
    "Transition",
    "Upsampling",
    "UpsamplingSeparableSymmetricConv2d",
    "UpsamplingSeparableSymmetricConvTranspose2d",
    "UpsamplingTrace",
    "exact_bicubic_half_kernel",
    "half_kernel_size",
    "initial_preconcat_half_kernel",
    "initial_ups_half_kernel",
    "kernel_2d",
    "symmetric_kernel",
]
