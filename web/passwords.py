"""Admin password hashes: made by `python -m web.hash_password`, checked in constant time.

Two formats, both standard library only:

    scrypt$<n>$<r>$<p>$<salt, base64>$<key, base64>
    pbkdf2_sha256$<iterations>$<salt, base64>$<key, base64>

The settings hold only such a hash; a value in any other shape is refused at start-up, so a
password pasted into ADMIN_PASSWORD_HASH by mistake stops the service instead of working.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
KEY_BYTES = 32
MAX_PASSWORD_CHARS = 1024


@dataclass(frozen=True)
class PasswordHash:
    algorithm: str
    params: tuple[int, ...]
    salt: bytes
    key: bytes

    def derive(self, password: str) -> bytes:
        secret = password.encode("utf-8")
        if self.algorithm == "scrypt":
            n, r, p = self.params
            return hashlib.scrypt(
                secret, salt=self.salt, n=n, r=r, p=p, maxmem=256 * r * n, dklen=len(self.key)
            )
        (iterations,) = self.params
        return hashlib.pbkdf2_hmac("sha256", secret, self.salt, iterations, dklen=len(self.key))


def _b64(text: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"the {what} is not base64") from exc
    if len(raw) < 16:
        raise ValueError(f"the {what} is shorter than 16 bytes")
    return raw


def _ints(parts: list[str], names: tuple[str, ...]) -> tuple[int, ...]:
    if not all(part.isdigit() for part in parts):
        raise ValueError(f"{', '.join(names)} must be whole numbers")
    return tuple(int(part) for part in parts)


def parse_hash(encoded: str) -> PasswordHash:
    """Read a stored hash, or say in one sentence why it is not one (never echoing it)."""
    parts = encoded.strip().split("$")
    if parts[0] == "scrypt" and len(parts) == 6:
        n, r, p = _ints(parts[1:4], ("n", "r", "p"))
        if n < 2**10 or n > 2**20 or n & (n - 1):
            raise ValueError("scrypt n must be a power of two from 2^10 to 2^20")
        if not (1 <= r <= 32 and 1 <= p <= 16):
            raise ValueError("scrypt r must be 1 to 32 and p 1 to 16")
        return PasswordHash("scrypt", (n, r, p), _b64(parts[4], "salt"), _b64(parts[5], "key"))
    if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
        (iterations,) = _ints(parts[1:2], ("iterations",))
        if not 100_000 <= iterations <= 10_000_000:
            raise ValueError("pbkdf2_sha256 iterations must be 100000 to 10000000")
        return PasswordHash(
            "pbkdf2_sha256", (iterations,), _b64(parts[2], "salt"), _b64(parts[3], "key")
        )
    raise ValueError(
        "not a password hash: expected scrypt$n$r$p$salt$key or "
        "pbkdf2_sha256$iterations$salt$key, as printed by `python -m web.hash_password`"
    )


def hash_password(password: str, salt: bytes | None = None) -> str:
    if not password:
        raise ValueError("the password is empty")
    salt = salt if salt is not None else secrets.token_bytes(16)
    key = hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=SCRYPT_N,
        r=SCRYPT_R,
        p=SCRYPT_P,
        maxmem=256 * SCRYPT_R * SCRYPT_N,
        dklen=KEY_BYTES,
    )
    encode = base64.b64encode
    return (
        f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}$"
        f"{encode(salt).decode('ascii')}${encode(key).decode('ascii')}"
    )


def verify_password(password: str, stored: PasswordHash) -> bool:
    """True when `password` matches; the comparison takes the same time wherever they differ."""
    if not password or len(password) > MAX_PASSWORD_CHARS:
        return False
    return hmac.compare_digest(stored.derive(password), stored.key)
