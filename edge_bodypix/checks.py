"""The one numeric parameter check: a real, finite number in range, or a named error.

NaN slips through comparisons (`not 0 <= nan <= 1` is easy to get wrong and
`nan < 0` is False), and a NaN keypoint threshold once protected nothing, so
every numeric parameter of the API goes through `check_number`.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Optional, Union

from .errors import InvalidParameterError

Number = Union[int, float]


def _interval(low: Optional[Number], high: Optional[Number], low_open: bool, high_open: bool) -> str:
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    return f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"


def check_number(
    name: str, value: object, low: Optional[Number] = None, high: Optional[Number] = None, *,
    low_open: bool = False, high_open: bool = False, integer: bool = False,
) -> Number:
    """`value` as a float (int with `integer`) if it is a finite number in the interval, else `InvalidParameterError`."""
    if isinstance(value, bool) or not isinstance(value, Real):
        kind = "a whole number" if integer else "a number"
        raise InvalidParameterError(f"{name} must be {kind}, got {value!r}")
    if integer and not isinstance(value, Integral):
        interval = _interval(low, high, low_open, high_open)
        raise InvalidParameterError(f"{name} {value!r} must be a whole number in {interval}")
    number = float(value)
    if not math.isfinite(number):
        raise InvalidParameterError(f"{name} {value!r} is not a finite number")
    below = low is not None and (number <= low if low_open else number < low)
    above = high is not None and (number >= high if high_open else number > high)
    if below or above:
        what = "a whole number in" if integer else "outside"
        verb = "must be" if integer else "is"
        raise InvalidParameterError(f"{name} {value!r} {verb} {what} {_interval(low, high, low_open, high_open)}")
    return int(value) if integer else number
