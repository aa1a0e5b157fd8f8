"""Go's ``sort.Sort`` and ``sort.Stable``, reproduced step for step.

The Go SDL builder orders exposes, endpoints and storage volumes with Go's sort package, and
some of those orderings decide bytes of the manifest that is hashed. ``sort.Sort`` is not
stable (pattern-defeating quicksort above 12 elements), and the storage comparator is not even
a strict weak order, so equal-keyed elements end up wherever Go's exact sequence of
comparisons and swaps puts them. Python's ``sorted`` would put them elsewhere. These functions
perform the same comparisons and swaps as Go (1.19 and later), so the result is Go's result;
the test suite checks them against orderings produced by Go itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["go_sort", "go_stable"]

T = TypeVar("T")
Less = Callable[[T, T], bool]

_MASK64 = (1 << 64) - 1
_MAX_INSERTION = 12
_SHORTEST_NINTHER = 50
_MAX_SWAPS = 4 * 3
_MAX_STEPS = 5
_SHORTEST_SHIFTING = 50
_STABLE_BLOCK = 20

_UNKNOWN, _INCREASING, _DECREASING = 0, 1, 2


class _Data:
    """The list and comparator, with Go's index-based ``Less``/``Swap`` interface."""

    __slots__ = ("items", "lt")

    def __init__(self, items: list[T], less: Less[T]) -> None:
        self.items = items
        self.lt = less

    def less(self, i: int, j: int) -> bool:
        return bool(self.lt(self.items[i], self.items[j]))

    def swap(self, i: int, j: int) -> None:
        items = self.items
        items[i], items[j] = items[j], items[i]


def go_sort(items: list[T], less: Less[T]) -> None:
    """Sort ``items`` in place exactly as Go's ``sort.Sort`` would."""
    n = len(items)
    if n <= _MAX_INSERTION:
        # Go sorts short inputs by insertion alone; skip the index-based wrapper.
        _insertion_list(items, less)
        return
    _pdqsort(_Data(items, less), 0, n, n.bit_length())


def go_stable(items: list[T], less: Less[T]) -> None:
    """Sort ``items`` in place exactly as Go's ``sort.Stable``/``sort.SliceStable`` would."""
    n = len(items)
    if n <= _STABLE_BLOCK:
        _insertion_list(items, less)
        return
    data = _Data(items, less)
    block = _STABLE_BLOCK
    start, end = 0, block
    while end <= n:
        _insertion(data, start, end)
        start, end = end, end + block
    _insertion(data, start, n)
    while block < n:
        start, end = 0, 2 * block
        while end <= n:
            _sym_merge(data, start, start + block, end)
            start, end = end, end + 2 * block
        middle = start + block
        if middle < n:
            _sym_merge(data, start, middle, n)
        block *= 2


def _insertion_list(items: list[T], less: Less[T]) -> None:
    for i in range(1, len(items)):
        j = i
        while j > 0 and less(items[j], items[j - 1]):
            items[j], items[j - 1] = items[j - 1], items[j]
            j -= 1


def _insertion(data: _Data, a: int, b: int) -> None:
    for i in range(a + 1, b):
        j = i
        while j > a and data.less(j, j - 1):
            data.swap(j, j - 1)
            j -= 1


def _sift_down(data: _Data, lo: int, hi: int, first: int) -> None:
    root = lo
    while True:
        child = 2 * root + 1
        if child >= hi:
            return
        if child + 1 < hi and data.less(first + child, first + child + 1):
            child += 1
        if not data.less(first + root, first + child):
            return
        data.swap(first + root, first + child)
        root = child


def _heap_sort(data: _Data, a: int, b: int) -> None:
    first, hi = a, b - a
    for i in range((hi - 1) // 2, -1, -1):
        _sift_down(data, i, hi, first)
    for i in range(hi - 1, -1, -1):
        data.swap(first, first + i)
        _sift_down(data, 0, i, first)


def _pdqsort(data: _Data, a: int, b: int, limit: int) -> None:
    balanced = True
    partitioned = True
    while True:
        length = b - a
        if length <= _MAX_INSERTION:
            _insertion(data, a, b)
            return
        if limit == 0:
            _heap_sort(data, a, b)
            return
        if not balanced:
            _break_patterns(data, a, b)
            limit -= 1
        pivot, hint = _choose_pivot(data, a, b)
        if hint == _DECREASING:
            _reverse(data, a, b)
            pivot = (b - 1) - (pivot - a)
            hint = _INCREASING
        if balanced and partitioned and hint == _INCREASING and _partial_insertion(data, a, b):
            return
        if a > 0 and not data.less(a - 1, pivot):
            a = _partition_equal(data, a, b, pivot)
            continue
        middle, partitioned = _partition(data, a, b, pivot)
        left, right = middle - a, b - middle
        threshold = length // 8
        if left < right:
            balanced = left >= threshold
            _pdqsort(data, a, middle, limit)
            a = middle + 1
        else:
            balanced = right >= threshold
            _pdqsort(data, middle + 1, b, limit)
            b = middle


def _partition(data: _Data, a: int, b: int, pivot: int) -> tuple[int, bool]:
    data.swap(a, pivot)
    i, j = a + 1, b - 1
    while i <= j and data.less(i, a):
        i += 1
    while i <= j and not data.less(j, a):
        j -= 1
    if i > j:
        data.swap(j, a)
        return j, True
    data.swap(i, j)
    i, j = i + 1, j - 1
    while True:
        while i <= j and data.less(i, a):
            i += 1
        while i <= j and not data.less(j, a):
            j -= 1
        if i > j:
            break
        data.swap(i, j)
        i, j = i + 1, j - 1
    data.swap(j, a)
    return j, False


def _partition_equal(data: _Data, a: int, b: int, pivot: int) -> int:
    data.swap(a, pivot)
    i, j = a + 1, b - 1
    while True:
        while i <= j and not data.less(a, i):
            i += 1
        while i <= j and data.less(a, j):
            j -= 1
        if i > j:
            return i
        data.swap(i, j)
        i, j = i + 1, j - 1


def _partial_insertion(data: _Data, a: int, b: int) -> bool:
    i = a + 1
    for _ in range(_MAX_STEPS):
        while i < b and not data.less(i, i - 1):
            i += 1
        if i == b:
            return True
        if b - a < _SHORTEST_SHIFTING:
            return False
        data.swap(i, i - 1)
        if i - a >= 2:
            # Go walks down to index 1 here, not to a + 1; the bound is kept as Go has it.
            j = i - 1
            while j >= 1 and data.less(j, j - 1):
                data.swap(j, j - 1)
                j -= 1
        if b - i >= 2:
            j = i + 1
            while j < b and data.less(j, j - 1):
                data.swap(j, j - 1)
                j += 1
    return False


def _break_patterns(data: _Data, a: int, b: int) -> None:
    length = b - a
    if length < 8:
        return
    state = length
    modulus = 1 << length.bit_length()
    for index in range(a + (length // 4) * 2 - 1, a + (length // 4) * 2 + 2):
        state ^= (state << 13) & _MASK64
        state ^= state >> 17
        state ^= (state << 5) & _MASK64
        other = state & (modulus - 1)
        if other >= length:
            other -= length
        data.swap(index, a + other)


def _choose_pivot(data: _Data, a: int, b: int) -> tuple[int, int]:
    length = b - a
    swaps = [0]
    i, j, k = a + length // 4, a + length // 4 * 2, a + length // 4 * 3
    if length >= 8:
        if length >= _SHORTEST_NINTHER:
            i = _median(data, i - 1, i, i + 1, swaps)
            j = _median(data, j - 1, j, j + 1, swaps)
            k = _median(data, k - 1, k, k + 1, swaps)
        j = _median(data, i, j, k, swaps)
    if swaps[0] == 0:
        return j, _INCREASING
    if swaps[0] == _MAX_SWAPS:
        return j, _DECREASING
    return j, _UNKNOWN


def _order2(data: _Data, a: int, b: int, swaps: list[int]) -> tuple[int, int]:
    if data.less(b, a):
        swaps[0] += 1
        return b, a
    return a, b


def _median(data: _Data, a: int, b: int, c: int, swaps: list[int]) -> int:
    a, b = _order2(data, a, b, swaps)
    b, c = _order2(data, b, c, swaps)
    a, b = _order2(data, a, b, swaps)
    return b


def _reverse(data: _Data, a: int, b: int) -> None:
    i, j = a, b - 1
    while i < j:
        data.swap(i, j)
        i, j = i + 1, j - 1


def _swap_range(data: _Data, a: int, b: int, n: int) -> None:
    for offset in range(n):
        data.swap(a + offset, b + offset)


def _sym_merge(data: _Data, a: int, m: int, b: int) -> None:
    if m - a == 1:
        i, j = m, b
        while i < j:
            h = (i + j) >> 1
            if data.less(h, a):
                i = h + 1
            else:
                j = h
        for k in range(a, i - 1):
            data.swap(k, k + 1)
        return
    if b - m == 1:
        i, j = a, m
        while i < j:
            h = (i + j) >> 1
            if not data.less(m, h):
                i = h + 1
            else:
                j = h
        for k in range(m, i, -1):
            data.swap(k, k - 1)
        return
    middle = (a + b) >> 1
    n = middle + m
    if m > middle:
        start, r = n - b, middle
    else:
        start, r = a, m
    p = n - 1
    while start < r:
        c = (start + r) >> 1
        if not data.less(p - c, c):
            start = c + 1
        else:
            r = c
    end = n - start
    if start < m < end:
        _rotate(data, start, m, end)
    if a < start < middle:
        _sym_merge(data, a, start, middle)
    if middle < end < b:
        _sym_merge(data, middle, end, b)


def _rotate(data: _Data, a: int, m: int, b: int) -> None:
    i, j = m - a, b - m
    while i != j:
        if i > j:
            _swap_range(data, m - i, m, j)
            i -= j
        else:
            _swap_range(data, m - i, m + j - i, i)
            j -= i
    _swap_range(data, m - i, m, i)
