"""Cool-chic's release lines on a level without channels (S6.4, S6.8).

The releases differ in one place only: what the loop of S6 does when it
reaches a level ``t`` with no channels.

- ``"stop"``: Cool-chic 4.1 and later, the specification's S6.4 and
  refups' default. The loop stops; the result keeps the resolution reached
  and every finer level is dropped.
- ``"continue"``: Cool-chic 4.0. The level's pre-concatenation filter
  returns nothing, the upsampled tensor alone becomes ``u``, and the loop
  goes on to level 0: the result has full resolution and the channels of
  every level that has some.
- ``"error"``: Cool-chic 3.4. Its pre-concatenation convolution refuses a
  tensor without channels: a ``ValueError`` naming the level.

The coarsest level is never pre-filtered, so a coarsest level without
channels is the same in all three (it adds no channel).

Examples
--------
>>> shapes = [(1, 1, 8, 8), (1, 0, 4, 4), (1, 1, 2, 2), (1, 1, 1, 1)]
>>> transition_levels(shapes, "stop"), transition_levels(shapes, "continue")
([2], [2, 1, 0])
"""

__all__ = ["EMPTY_LEVELS", "RELEASES", "check_empty_levels", "depends_on_release", "release_name",
           "transition_levels"]

#: The choices of ``empty_levels`` and the Cool-chic releases that behave that way.
EMPTY_LEVELS = {
    "stop": "Cool-chic 4.1 and later (S6.4)",
    "continue": "Cool-chic 4.0",
    "error": "Cool-chic 3.4",
}

#: Release line -> its ``empty_levels``.
RELEASES = {"3.4": "error", "4.0": "continue", "4.1": "stop"}


def release_name(empty_levels):
    """The short name of the release line that behaves as ``empty_levels`` says.

    Examples
    --------
    >>> release_name("continue"), release_name("stop")
    ('Cool-chic 4.0', 'Cool-chic 4.1')
    """
    return "Cool-chic " + next(release for release, value in RELEASES.items() if value == empty_levels)


def depends_on_release(shapes):
    """Whether the release lines give different results on levels of these shapes.

    They differ exactly when a level other than the coarsest has no channels:
    4.1 stops there, 4.0 goes on to level 0, 3.4 refuses it.

    Examples
    --------
    >>> depends_on_release([(1, 1, 4, 4), (1, 0, 2, 2), (1, 1, 1, 1)])
    True
    >>> depends_on_release([(1, 1, 4, 4), (1, 1, 2, 2), (1, 0, 1, 1)])
    False
    """
    return any(shape[1] == 0 for shape in list(shapes)[:-1])


def check_empty_levels(value, name="empty_levels"):
    """``value`` if it is one of :data:`EMPTY_LEVELS`, else a ValueError naming ``name``.

    Examples
    --------
    >>> check_empty_levels("skip")
    Traceback (most recent call last):
    ...
    ValueError: empty_levels must be 'stop' (Cool-chic 4.1 and later (S6.4)), 'continue' (Cool-chic 4.0) or 'error' (Cool-chic 3.4); got 'skip'
    """
    if not isinstance(value, str) or value not in EMPTY_LEVELS:
        choices = [f"{key!r} ({release})" for key, release in EMPTY_LEVELS.items()]
        raise ValueError(f"{name} must be {', '.join(choices[:-1])} or {choices[-1]}; got {value!r}")
    return value


def transition_levels(shapes, empty_levels="stop"):
    """The levels the S6 loop pre-filters, coarsest transition first (``idx`` = position).

    ``shapes`` are the levels' ``(B, C, H, W)``, level 0 finest. With
    ``"error"``, a level without channels that the loop reaches is a
    ValueError.

    Examples
    --------
    >>> transition_levels([(1, 0, 4, 4), (1, 1, 2, 2), (1, 1, 1, 1)], "error")
    Traceback (most recent call last):
    ...
    ValueError: latents[0] has no channels; with empty_levels='error' (Cool-chic 3.4) a level without channels that is pre-filtered is refused
    """
    check_empty_levels(empty_levels)
    levels = []
    for level in range(len(shapes) - 2, -1, -1):
        if shapes[level][1] == 0:
            if empty_levels == "stop":
                break
            if empty_levels == "error":
                raise ValueError(f"latents[{level}] has no channels; with empty_levels='error' (Cool-chic 3.4) "
                                 "a level without channels that is pre-filtered is refused")
        levels.append(level)
    return levels
