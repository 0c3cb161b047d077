"""The two separable, symmetric filters of the Upsampling module (S3-S5, S7, S8).

Framework-free counterparts of Cool-chic's layers of the same names. Each owns
a half-kernel ``weight`` (spec S1) and a scalar ``bias`` that is stored but
never applied (S8), and filters every channel of a ``(B, C, H, W)`` array
independently (S6.6). ``training = True`` selects the dense 2-D path,
``False`` (the default) the separable one (S7).
"""

import numpy as np

from . import ops
from ._validation import as_real_array, check_channels
from .limits import check_kernel_size_limit
from .kernels import (
    check_preconcat_kernel_size,
    check_ups_kernel_size,
    half_kernel_size,
    initial_preconcat_half_kernel,
    initial_ups_half_kernel,
    symmetric_kernel,
)

__all__ = [
    "UpsamplingSeparableSymmetricConv2d",
    "UpsamplingSeparableSymmetricConvTranspose2d",
]


def check_param(value, shape, name):
    """Return a parameter as a float64 array of ``shape``, or raise naming ``name``.

    Examples
    --------
    >>> check_param([0.5], (1,), "bias")
    array([0.5])
    >>> check_param(0.5, (1,), "bias")
    Traceback (most recent call last):
    ...
    ValueError: bias must have shape (1,); got shape ()
    """
    array = as_real_array(value, name)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got shape {array.shape}")
    return array.astype(np.float64)  # always a private copy


class Module:
    """Minimal stand-in for ``torch.nn.Module``: a ``training`` flag and ``__call__``."""

    training = False

    def _children(self):
        return []

    def train(self, mode=True):
        """Select the dense path (``mode=True``) or the separable path; returns ``self``.

        Examples
        --------
        >>> UpsamplingSeparableSymmetricConv2d(3).train().training
        True
        """
        self.training = bool(mode)
        for child in self._children():
            child.train(mode)
        return self

    def eval(self):
        """Select the separable path (the default); returns ``self``."""
        return self.train(False)

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)


class _SymmetricFilter(Module):
    """Shared parameter handling: a half-kernel ``weight`` and a ``bias`` of shape (1,)."""

    def __init__(self, kernel_size):
        self.kernel_size = check_kernel_size_limit(self._check_size(kernel_size, "kernel_size"), "kernel_size")
        self.initialize_parameters()

    @property
    def weight(self):
        """Half-kernel ``h``, shape ``((kernel_size + 1) // 2,)``, float64 (S1)."""
        return self._weight

    @weight.setter
    def weight(self, value):
        self._weight = check_param(value, (half_kernel_size(self.kernel_size),), "weight")

    @property
    def bias(self):
        """Scalar bias, shape ``(1,)``: stored, never applied (S8)."""
        return self._bias

    @bias.setter
    def bias(self, value):
        self._bias = check_param(value, (1,), "bias")

    @property
    def kernel(self):
        """Full symmetric 1-D kernel ``w``, shape ``(kernel_size,)`` (S1)."""
        return symmetric_kernel(self._weight, self.kernel_size)

    def forward(self, x, *, out=None, workers=None):
        """Filter every channel of ``x`` (B, C, H, W); see the class docstring.

        ``out`` (optional) receives the result, or for the upsampling filter
        its top-left crop; ``workers`` sets the threads of the separable path
        as in ``scipy.fft`` (default: all cores; the dense path uses one).
        """
        x = check_channels(x, "x")
        if self.training:
            return self._dense(x, self.kernel, out=out)
        return self._separable(x, self.kernel, out=out, workers=workers)

    def __repr__(self):
        return f"{type(self).__name__}(kernel_size={self.kernel_size})"


class UpsamplingSeparableSymmetricConvTranspose2d(_SymmetricFilter):
    """2x upsampling filter: stride-2 transposed convolution with ``w (x) w`` (S4).

    Parameters
    ----------
    kernel_size : int
        Even and ``>= 4`` (S2). The half-kernel has ``kernel_size / 2`` entries.

    Notes
    -----
    ``forward(x)`` maps ``(B, C, H, W)`` to ``(B, C, 2H, 2W)``: replicate-pad by
    ``P = k/2``, zero-stuff, convolve with ``w (x) w``, crop ``C = 3k/2 - 1``
    from each end, per channel. Initial weights (S3): bilinear for ``k < 8``,
    Cool-chic's negated bicubic literals for ``k >= 8``.

    Examples
    --------
    >>> layer = UpsamplingSeparableSymmetricConvTranspose2d(4)
    >>> layer.kernel
    array([0.25, 0.75, 0.75, 0.25])
    >>> layer(np.array([[[[1, 2, 4]]]])).shape   # (B, C, 2H, 2W)
    (1, 1, 2, 6)
    """

    _check_size = staticmethod(check_ups_kernel_size)
    _separable = staticmethod(ops.upsample_separable)
    _dense = staticmethod(ops.upsample_dense)

    def initialize_parameters(self):
        """Bilinear or bicubic half-kernel (S3) and a zero bias."""
        self.weight = initial_ups_half_kernel(self.kernel_size)
        self.bias = np.zeros(1)


class UpsamplingSeparableSymmetricConv2d(_SymmetricFilter):
    """Residual pre-concatenation filter ``Z = X + (w (x) w) * X`` (S5).

    Parameters
    ----------
    kernel_size : int
        Odd and ``>= 1`` (S2). The half-kernel has ``(kernel_size + 1) / 2``
        entries.

    Notes
    -----
    ``forward(x)`` keeps the shape ``(B, C, H, W)``; borders are zero-padded.
    The initial kernel is a Dirac (S3), so the initial filter doubles its input.

    Examples
    --------
    >>> layer = UpsamplingSeparableSymmetricConv2d(3)
    >>> layer.kernel
    array([0., 1., 0.])
    >>> layer(np.array([[[[1.0, -2.0]]]]))   # Dirac + residual: 2 X
    array([[[[ 2., -4.]]]])
    """

    _check_size = staticmethod(check_preconcat_kernel_size)
    _separable = staticmethod(ops.preconcat_separable)
    _dense = staticmethod(ops.preconcat_dense)

    def initialize_parameters(self):
        """Dirac half-kernel ``(0, ..., 0, 1)`` (S3) and a zero bias."""
        self.weight = initial_preconcat_half_kernel(self.kernel_size)
        self.bias = np.zeros(1)
