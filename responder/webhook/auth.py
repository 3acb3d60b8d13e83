"""Bearer-token checks, in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac

from flask import Request


def token_ok(request: Request, expected: str | None, *, allow_basic: bool = False) -> bool:
    """True when the request carries ``expected`` as a Bearer token (or Basic password if allowed).

    ``expected`` None means authentication is off (``responder up`` on loopback, or
    ``responder serve --allow-unauthenticated``).
    """
    if expected is None:
        return True
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return hmac.compare_digest(value.strip().encode(), expected.encode())
    if allow_basic and scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        _, _, password = decoded.partition(":")
        return hmac.compare_digest(password.encode(), expected.encode())
    return False
