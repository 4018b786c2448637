"""Checks of option values, shared by every config of latens, with one message shape each.

    unknown <what> <value>; <name> must be one of <a>, <b>, <c>
    <name> must be <condition>, got <value>

Each check returns the value it accepted and raises `error` (a `ValueError`
by default; the folder command passes its `InputError`) otherwise, so a
config's `__post_init__` reads as a list of its rules.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Sequence


class InputError(ValueError):
    """Bad input from a user of the folder command (options, folders, too few images); the message says what."""


def one_of(name: str, value, choices: Iterable, *, what: str | None = None, error: type = ValueError):
    """Accepts `value` if it is one of `choices`.

    Args:
      name: the option's name, as the user wrote it.
      value: its value.
      choices: the valid values, in the order to list them.
      what: what a value names, when it reads better than `name`
        (e.g. "auto-encoder" for `kind`).
      error: the exception type to raise.

    Returns:
      `value`.
    """
    choices = tuple(choices)
    if value not in choices:
        raise error(f"unknown {what or name} {value!r}; {name} must be one of {_listed(choices)}")
    return value


def each_one_of(name: str, values: Iterable, choices: Iterable, *, error: type = ValueError) -> tuple:
    """Accepts a sequence whose every item is one of `choices` (see `one_of`).

    Returns:
      `values` as a tuple.
    """
    values, choices = tuple(values), tuple(choices)
    unknown = [v for v in values if v not in choices]
    if unknown:
        raise error(f"unknown {name} {unknown}; {name} must each be one of {_listed(choices)}")
    return values


def positive(name: str, value, *, error: type = ValueError):
    """Accepts a number > 0."""
    if not value > 0:  # Also refuses NaN.
        raise error(f"{name} must be positive, got {value!r}")
    return value


def at_least(name: str, value, minimum, *, error: type = ValueError):
    """Accepts a number >= `minimum`."""
    if not value >= minimum:
        raise error(f"{name} must be at least {minimum}, got {value!r}")
    return value


def integer(name: str, value, *, error: type = ValueError) -> int:
    """Accepts an integer: a Python or NumPy int, not a bool, a whole float or a string of digits.

    Returns:
      `value` as a Python int (a NumPy int would not go into a config's JSON).
    """
    # bool is an Integral too, but `n=True` is a mistake, not the number 1.
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise error(f"{name} must be an integer, got {value!r}")
    return int(value)


def colon_separated(name: str, value: str, form: str, converters: Sequence[Callable], *, optional: int = 0,
                    error: type = ValueError) -> tuple:
    """Reads a value of the form `a:b:c`, each part converted (the research scripts' candidates and settings).

    Args:
      name: the option's name, as the user wrote it.
      value: the text.
      form: its form, for the message (e.g. `"name:stop_loss:stop_patience"`).
      converters: one function per part; each raises `ValueError` (or
        `TypeError`) for a part it does not accept.
      optional: how many of the last parts may be left out.
      error: the exception type to raise.

    Returns:
      The converted parts, as many as `value` gives.
    """
    parts = value.split(":")
    try:
        if not len(converters) - optional <= len(parts) <= len(converters):
            raise ValueError(value)
        return tuple(convert(part) for convert, part in zip(converters, parts))
    except (ValueError, TypeError):
        raise error(f"{name} must be {form}, got {value!r}") from None


def _listed(choices: tuple) -> str:
    # None stands for "unset, the default" and is not a value to type.
    return ", ".join(str(c) for c in choices if c is not None)


def choices(config, *, error: type = ValueError) -> None:
    """Checks every field a config names in its `CHOICES` (name -> valid values) with `one_of`."""
    for name, valid in type(config).CHOICES.items():
        one_of(name, getattr(config, name), valid, error=error)
