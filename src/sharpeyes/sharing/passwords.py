"""Password hashing for console/API users (argon2id, argon2-cffi defaults = RFC 9106).

Device SIP passwords are *not* hashed with this: digest authentication needs the
plaintext (see ``store.models.Device.password``).
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """argon2id PHC string (salt and parameters embedded) for ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True if ``password`` matches; False on mismatch or an unreadable hash.

    Argument order follows argon2-cffi (hash first). CPU/memory heavy (~tens of
    ms): call it off the event loop (``asyncio.to_thread``).
    """
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker/older parameters than the current ones."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except (InvalidHashError, ValueError):
        return True
