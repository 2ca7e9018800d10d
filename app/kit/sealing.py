"""Secrets we must be able to read back (an SNMP community, a USM key), sealed at rest.

Sealed with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) under a key derived from the
application's ``secret_key`` with HKDF, so a database dump alone does not give away the devices'
credentials. Changing ``secret_key`` makes sealed values unreadable: ``Unsealable`` says so, and the
operator enters the secrets again. Passwords we only verify are hashed instead (app/auth).
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

# Distinct from every other use of secret_key (session tokens): a key for one purpose only.
_PURPOSE = b"opentelecom sealed secrets v1"


class Unsealable(Exception):
    """A sealed value that this secret key did not seal (or that was altered)."""


@functools.lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(secret_key.encode())
    return Fernet(base64.urlsafe_b64encode(key))


def seal(secret_key: str, plaintext: str) -> str:
    """The sealed form of ``plaintext`` (ASCII, safe in a text column); sealing twice gives two values."""
    return _fernet(secret_key).encrypt(plaintext.encode()).decode("ascii")


def unseal(secret_key: str, sealed: str) -> str:
    """The plaintext of a value ``seal`` made with the same secret key."""
    try:
        return _fernet(secret_key).decrypt(sealed.encode("ascii")).decode()
    except (InvalidToken, UnicodeError, ValueError):
        raise Unsealable("sealed with another secret key, or altered") from None
