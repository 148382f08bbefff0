"""Encrypting secrets at rest (app secrets, TOTP seeds) with a key derived from the
node's own secret (``sharing.node_secret``): a database dump alone does not reveal
them. Fernet (AES-128-CBC + HMAC-SHA256) from ``cryptography``."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    def __init__(self, node_secret: bytes) -> None:
        key = hashlib.sha256(b"sharpeyes secretbox\n" + node_secret).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def seal(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, sealed: str) -> str:
        """The plain text; ValueError if it was not sealed by this node's key."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken as exc:
            raise ValueError("secret cannot be decrypted with this node's key") from exc
