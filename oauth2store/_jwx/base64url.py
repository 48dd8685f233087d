"""base64url without padding (RFC 7515 §2 and Appendix C): the one encoder and the one decoder of the package.

The decoder is strict: `base64.urlsafe_b64decode` silently drops characters outside the alphabet, so two different
strings would decode to one value; here any such character, padding or impossible length is a ValueError.
"""

from __future__ import annotations

import base64


def encode(data: bytes) -> str:
    """The unpadded base64url text of `data`."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def decode(text: str) -> bytes:
    """The bytes of unpadded base64url `text`.

    Raises:
        ValueError: `text` is not a string of the base64url alphabet, or has an impossible length.
    """
    if not isinstance(text, str) or len(text) % 4 == 1 or "=" in text or "+" in text or "/" in text:
        raise ValueError("not unpadded base64url")
    # validate=True refuses anything outside the alphabet (after "-_" became "+/"), non-ASCII text included.
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)


def encode_uint(value: int, length: int | None = None) -> str:
    """An unsigned integer as big-endian octets (RFC 7518 §2 Base64urlUInt), at least `length` octets long."""
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return encode(value.to_bytes(size, "big"))


def decode_uint(text: str) -> int:
    """The unsigned integer of a Base64urlUInt member; ValueError when it is not base64url."""
    return int.from_bytes(decode(text), "big")
