from __future__ import annotations

from argon2 import PasswordHasher

from sharpeyes.sharing.passwords import hash_password, needs_rehash, verify_password


def test_hash_is_argon2id_salted_and_verifies() -> None:
    h1 = hash_password("correct horse")
    h2 = hash_password("correct horse")
    assert h1.startswith("$argon2id$")
    assert h1 != h2  # random salt
    assert verify_password(h1, "correct horse")
    assert verify_password(h2, "correct horse")
    assert not verify_password(h1, "correct hors")
    assert not verify_password(h1, "")


def test_garbage_hash_does_not_raise() -> None:
    assert not verify_password("not-a-hash", "whatever")
    assert not verify_password("", "whatever")
    assert needs_rehash("not-a-hash")


def test_needs_rehash_for_weaker_parameters() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("password1")
    assert verify_password(weak, "password1")  # still accepted …
    assert needs_rehash(weak)  # … but flagged for upgrade
    assert not needs_rehash(hash_password("password1"))
