"""The hash behind every deterministic split: the release's splits and training's line and character
splits place a unit by the same function, so neither depends on run order, process or platform."""

from __future__ import annotations

import hashlib

HASH_BITS = 64  # bits of the salted sha256 that place a unit on [0, 1)


def hash_position(seed: int, key: str, separator: str = "\x00") -> float:
    """A number in [0, 1) fixed by `seed` and `key`: the first HASH_BITS bits of sha256 of
    "<seed><separator><key>". The release joins with NUL and training with ":"; each keeps the
    separator its splits were first made with, so no published split moves."""
    digest = hashlib.sha256(f"{seed}{separator}{key}".encode()).digest()
    return int.from_bytes(digest[: HASH_BITS // 8], "big") / 2**HASH_BITS
