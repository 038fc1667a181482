"""Check digits the sandboxes' generated data carries (Swedish organisation and personal numbers)."""

from __future__ import annotations


def luhn(digits: str) -> int:
    """The Luhn (mod 10) check digit of ``digits``, as Swedish organisation numbers use it."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return (10 - total % 10) % 10
