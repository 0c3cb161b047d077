"""The Upsampling module: latent pyramid -> dense tensor (spec S6, S8).

Examples
--------
>>> up = Upsampling(ups_k_size=8, ups_preconcat_k_size=7,
...                 n_ups_kernel=2, n_ups_preconcat_kernel=2)
>>> latents = [np.zeros((1, 1, 8, 8)), np.zeros((1, 1, 4, 4)), np.zeros((1, 1, 2, 2))]
>>> up(latents).shape   # (B, C_0 + C_1 + C_2, H_0, W_0)
(1, 3, 8, 8)
>>> list(up.get_param())[:2]
['conv_transpose2ds.0.bias', 'conv_transpose2ds.0.parametrizations.weight.original']
"""

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from ._validation import check_count, check_filter_counts, check_latents
from .kernels import check_preconcat_kernel_size, check_ups_kernel_size, half_kernel_size
from .layers import (
    Module,
    UpsamplingSeparableSymmetricConv2d,
    UpsamplingSeparableSymmetricConvTranspose2d,
    check_param,
)
from .limits import check_allocation, check_count_limit, check_kernel_size_limit
from .ops import resolve_workers
from .versions import check_empty_levels, transition_levels

__all__ = ["Transition", "Upsampling", "UpsamplingTrace"]


@dataclass(frozen=True, eq=False)  # arrays inside: compare fields explicitly
class Transition:
    """What one step of the S6 loop computed, for debugging and teaching.

    Attributes
    ----------
    index : int
        Transition number ``idx``; 0 is the coarsest (``y_{L-1}`` up to ``y_{L-2}``).
    level : int
        The level ``L - 2 - idx`` that this transition upsamples into.
    ups_filter, preconcat_filter : int
        Which filters were used: ``idx % n_ups_kernel`` and
        ``idx % n_ups_preconcat_kernel`` (S6.2, S6.3).
    upsampled : ndarray, shape (B, C_u, H_level, W_level)
        The upsampled coarser tensor after cropping to the level's size.
    prefiltered : ndarray, shape (B, C_level, H_level, W_level)
        The level after the residual pre-concatenation filter.
    output : ndarray, shape (B, C_level + C_u, H_level, W_level)
        ``concatenate([prefiltered, upsampled])`` (S6.1).
    """

    index: int
    level: int
    ups_filter: int
    preconcat_filter: int
    upsampled: np.ndarray
    prefiltered: np.ndarray
    output: np.ndarray


@dataclass(frozen=True, eq=False)  # arrays inside: compare fields explicitly
class UpsamplingTrace:
    """A forward pass with its intermediates: ``output`` and one :class:`Transition` per step."""

    output: np.ndarray
    transitions: list


class Upsampling(Module):
    """Cool-chic's Upsampling: from a latent pyramid to one dense tensor (S6).

    Parameters
    ----------
    ups_k_size : int
        Size of the upsampling (transposed convolution) kernels; even, ``>= 4``.
    ups_preconcat_k_size : int
        Size of the pre-concatenation kernels; odd, ``>= 1``.
    n_ups_kernel : int
        Number of upsampling filters, ``>= 0``. Transition ``idx`` (0 is the
        coarsest) uses filter ``idx % n_ups_kernel`` (S6.2, S6.3).
    n_ups_preconcat_kernel : int
        Number of pre-concatenation filters, ``>= 0``, shared the same way.
    empty_levels : {"stop", "continue", "error"}, keyword-only
        What the loop does at a level without channels, as each Cool-chic
        release line does (S6.8, :mod:`refups.versions`): ``"stop"``, 4.1 and
        later, S6.4 (the default); ``"continue"``, 4.0; ``"error"``, 3.4.

    Notes
    -----
    With latents ``y_0 .. y_{L-1}`` (``y_0`` finest, shape ``(B, C_i, H_i, W_i)``)::

        u = y_{L-1}
        for idx, t in enumerate([y_{L-2}, ..., y_0]):
            if t has 0 channels: stop                      # S6.4
            x = ups_filter[idx % n_ups_kernel](u)[:, :, :H_t, :W_t]
            h = preconcat_filter[idx % n_ups_preconcat_kernel](t)
            u = concatenate([h, x], axis=1)                # S6.1
        return u

    so the output channels are ordered ``y_0, y_1, ..., y_{L-1}``. Biases are
    stored but never applied (S8). ``training = True`` (see :meth:`train`)
    evaluates with dense 2-D kernels, otherwise with separable passes (S7).
    The computation dtype is that of the latents: float32 stays float32,
    float64 stays float64, integers become float64 (S9).

    Examples
    --------
    >>> up = Upsampling(4, 1, 1, 1)
    >>> y0 = np.array([[[[1.0, 1.0]]]])          # (1, 1, 1, 2)
    >>> y1 = np.array([[[[5.0]]]])               # (1, 1, 1, 1)
    >>> up([y0, y1])                             # (1, 2, 1, 2)
    array([[[[2., 2.]],
    <BLANKLINE>
            [[5., 5.]]]])
    """

    def __init__(self, ups_k_size, ups_preconcat_k_size, n_ups_kernel, n_ups_preconcat_kernel, *,
                 empty_levels="stop"):
        self.empty_levels = check_empty_levels(empty_levels)
        self.ups_k_size = check_ups_kernel_size(ups_k_size, "ups_k_size")
        self.ups_preconcat_k_size = check_preconcat_kernel_size(
            ups_preconcat_k_size, "ups_preconcat_k_size"
        )
        n_ups_kernel = check_count(n_ups_kernel, "n_ups_kernel")
        n_ups_preconcat_kernel = check_count(n_ups_preconcat_kernel, "n_ups_preconcat_kernel")
        # Allocation guard (refups.limits): sizes and counts first, then the bytes they imply.
        check_kernel_size_limit(self.ups_k_size, "ups_k_size")
        check_kernel_size_limit(self.ups_preconcat_k_size, "ups_preconcat_k_size")
        check_count_limit(n_ups_kernel, "n_ups_kernel")
        check_count_limit(n_ups_preconcat_kernel, "n_ups_preconcat_kernel")
        check_allocation(8 * (n_ups_kernel * (half_kernel_size(self.ups_k_size) + 1)
                              + n_ups_preconcat_kernel * (half_kernel_size(self.ups_preconcat_k_size) + 1)),
                         "the parameters of these filters")
        self.conv_transpose2ds = [
            UpsamplingSeparableSymmetricConvTranspose2d(self.ups_k_size)
            for _ in range(n_ups_kernel)
        ]
        self.conv2ds = [
            UpsamplingSeparableSymmetricConv2d(self.ups_preconcat_k_size)
            for _ in range(n_ups_preconcat_kernel)
        ]

    @property
    def n_ups_kernel(self):
        """Number of upsampling filters, ``len(conv_transpose2ds)``."""
        return len(self.conv_transpose2ds)

    @property
    def n_ups_preconcat_kernel(self):
        """Number of pre-concatenation filters, ``len(conv2ds)``."""
        return len(self.conv2ds)

    def _children(self):
        return self.conv_transpose2ds + self.conv2ds

    def __repr__(self):
        return (
            f"Upsampling(ups_k_size={self.ups_k_size}, "
            f"ups_preconcat_k_size={self.ups_preconcat_k_size}, "
            f"n_ups_kernel={self.n_ups_kernel}, "
            f"n_ups_preconcat_kernel={self.n_ups_preconcat_kernel}"
            + ("" if self.empty_levels == "stop" else f", empty_levels={self.empty_levels!r}") + ")"
        )

    def on_release_line(self, empty_levels):
        """The same module, parameters and mode on the Cool-chic release line ``empty_levels``.

        ``"stop"`` (4.1 and later, S6.4), ``"continue"`` (4.0) or ``"error"``
        (3.4, S6.8): what the loop does at a level without channels below the
        coarsest. ``self`` if it is on that line already.

        Examples
        --------
        >>> up = Upsampling(4, 3, 1, 1)
        >>> up.on_release_line("continue")
        Upsampling(ups_k_size=4, ups_preconcat_k_size=3, n_ups_kernel=1, n_ups_preconcat_kernel=1, empty_levels='continue')
        >>> up.on_release_line("stop") is up
        True
        """
        if check_empty_levels(empty_levels) == self.empty_levels:
            return self
        other = Upsampling(self.ups_k_size, self.ups_preconcat_k_size, self.n_ups_kernel,
                           self.n_ups_preconcat_kernel, empty_levels=empty_levels)
        other.set_param(self.get_param())
        return other.train(self.training)

    # -- forward ---------------------------------------------------------------

    def _check(self, latents, workers):
        """Validate the arguments; return the levels, the number of transitions, the threads."""
        workers = resolve_workers(workers)
        levels = check_latents(latents)
        # S6.4: the loop stops at the first level without channels (or, S6.8, goes on or refuses).
        n_transitions = len(transition_levels([y.shape for y in levels], self.empty_levels))
        check_filter_counts(self, n_transitions)
        return levels, n_transitions, workers

    def _transitions(self, levels, n_transitions, workers):
        """Run the S6 loop, yielding one :class:`Transition` per step.

        Each step allocates the next ``u`` once and lets both filters write
        into it: ``u[:, :C_t]`` the pre-filtered level, ``u[:, C_t:]`` the
        top-left crop of the upsampled coarser tensor (no concatenation copy).
        """
        u = levels[-1]
        for idx in range(n_transitions):
            level = len(levels) - 2 - idx
            t = levels[level]
            B, C_t, H_t, W_t = t.shape
            ups_filter = idx % self.n_ups_kernel
            preconcat_filter = idx % self.n_ups_preconcat_kernel
            concatenated = np.empty((B, C_t + u.shape[1], H_t, W_t), dtype=t.dtype)
            h = self.conv2ds[preconcat_filter](t, out=concatenated[:, :C_t], workers=workers)
            x = self.conv_transpose2ds[ups_filter](u, out=concatenated[:, C_t:], workers=workers)
            u = concatenated  # S6.1: the filtered finer level first
            yield Transition(idx, level, ups_filter, preconcat_filter, x, h, u)

    def forward(self, latents, *, workers=None):
        """Upsample a latent pyramid into one dense tensor.

        Parameters
        ----------
        latents : list of array_like, shapes (B, C_i, H_i, W_i)
            Level 0 is the finest; ``2 H_{i+1} >= H_i`` and ``2 W_{i+1} >= W_i``.
        workers : int, optional
            Threads for the separable path, as in ``scipy.fft``: None (default)
            or -1 for every core, 1 for a single thread. The result is the same
            bit for bit whatever the count.

        Returns
        -------
        ndarray, shape (B, C_0 + ... + C_{L-1}, H_0, W_0)
            The dense tensor; coarser and with fewer channels when a level has no channels (S6.4).

        Examples
        --------
        >>> up = Upsampling(4, 1, 1, 1)
        >>> up([np.zeros((2, 1, 5, 3)), np.ones((2, 2, 3, 2))]).shape   # odd sizes crop
        (2, 3, 5, 3)
        >>> up([np.zeros((1, 0, 4, 4)), np.ones((1, 1, 2, 2))]).shape   # S6.4: stop
        (1, 1, 2, 2)
        """
        levels, n_transitions, workers = self._check(latents, workers)
        u = levels[-1]
        for step in self._transitions(levels, n_transitions, workers):
            u = step.output
        return u.copy() if u is levels[-1] else u  # never return the caller's array

    def trace(self, latents, *, workers=None):
        """Like :meth:`forward`, but also return every transition's intermediates.

        Examples
        --------
        >>> up = Upsampling(4, 3, 1, 1)
        >>> steps = up.trace([np.ones((1, 1, 4, 4)), np.ones((1, 2, 2, 2))]).transitions
        >>> [(s.level, s.upsampled.shape, s.prefiltered.shape) for s in steps]
        [(0, (1, 2, 4, 4), (1, 1, 4, 4))]
        """
        levels, n_transitions, workers = self._check(latents, workers)
        transitions = list(self._transitions(levels, n_transitions, workers))
        output = transitions[-1].output if transitions else levels[-1].copy()
        return UpsamplingTrace(output, transitions)

    # -- parameters ------------------------------------------------------------

    def _param_slots(self):
        """``(name, layer, attribute)`` for every parameter, in ``get_param()`` order."""
        for prefix, layers in [("conv_transpose2ds", self.conv_transpose2ds), ("conv2ds", self.conv2ds)]:
            for i, layer in enumerate(layers):
                yield f"{prefix}.{i}.bias", layer, "bias"
                yield f"{prefix}.{i}.parametrizations.weight.original", layer, "weight"

    def get_param(self):
        """Copies of all biases and half-kernels, under Cool-chic's names and order (S8).

        Returns
        -------
        OrderedDict of str -> ndarray (float64)

        Examples
        --------
        >>> for name, value in Upsampling(4, 3, 1, 1).get_param().items():
        ...     print(name, value)
        conv_transpose2ds.0.bias [0.]
        conv_transpose2ds.0.parametrizations.weight.original [0.25 0.75]
        conv2ds.0.bias [0.]
        conv2ds.0.parametrizations.weight.original [0. 1.]
        """
        return OrderedDict(
            (name, getattr(layer, attribute).copy())
            for name, layer, attribute in self._param_slots()
        )

    def set_param(self, params):
        """Load parameters named as in :meth:`get_param` (S8).

        All names and shapes are checked before anything is written. Values may
        be NumPy arrays, nested lists or PyTorch tensors (as Cool-chic's
        ``get_param()`` returns them). The biases may be left out, as Cool-chic
        4.x bitstreams leave them out: a missing bias is set to 0 (biases are
        never applied, S8).

        Raises
        ------
        ValueError
            Listing every missing, unexpected and mis-shaped entry.

        Examples
        --------
        >>> up = Upsampling(4, 3, 1, 1)
        >>> params = up.get_param()
        >>> params["conv2ds.0.parametrizations.weight.original"] = [0.5, 1.0]
        >>> up.set_param(params)
        >>> up.conv2ds[0].kernel
        array([0.5, 1. , 0.5])
        >>> up.set_param({name: v for name, v in params.items() if not name.endswith(".bias")})
        >>> up.set_param({})
        Traceback (most recent call last):
        ...
        ValueError: params must match this Upsampling(...) exactly; got missing [...]
        """
        if not hasattr(params, "keys") or not hasattr(params, "__getitem__"):
            raise TypeError(
                f"params must be a mapping of parameter names to arrays; got {type(params).__name__}"
            )
        shapes = OrderedDict(
            (name, getattr(layer, attribute).shape) for name, layer, attribute in self._param_slots()
        )
        missing = [name for name in shapes if name not in params and not name.endswith(".bias")]
        unexpected = [name for name in params if name not in shapes]
        checked, invalid = {}, []
        for name, shape in shapes.items():
            if name not in params and name.endswith(".bias"):
                checked[name] = np.zeros(shape)
            elif name in params:
                try:
                    checked[name] = check_param(params[name], shape, name)
                except (TypeError, ValueError) as error:
                    invalid.append(str(error))
        if missing or unexpected or invalid:
            problems = []
            for label, names in (("missing", missing), ("unexpected", unexpected)):
                if names:  # at most 10 names, so that the message stays one readable line
                    more = f" and {len(names) - 10} more" if len(names) > 10 else ""
                    problems.append(f"{label} {names[:10]}{more}")
            if invalid:
                problems.append("invalid: " + "; ".join(invalid))
            raise ValueError(
                f"params must match this {self!r} exactly; got " + "; ".join(problems)
            )
        for name, layer, attribute in self._param_slots():
            setattr(layer, attribute, checked[name])

    def reinitialize_parameters(self):
        """Reset every filter to its initial half-kernel and a zero bias (S3).

        Examples
        --------
        >>> up = Upsampling(4, 3, 1, 1)
        >>> up.conv_transpose2ds[0].weight = [1.0, 2.0]
        >>> up.reinitialize_parameters()
        >>> up.conv_transpose2ds[0].weight
        array([0.25, 0.75])
        """
        for layer in self._children():
            layer.initialize_parameters()
