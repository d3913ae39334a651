"""`python -m web.hash_password`: make the value of ADMIN_PASSWORD_HASH.

Asks for the password twice on a terminal (it is never echoed), or reads one line from stdin
when piped: `printf %s "$PASSWORD" | python -m web.hash_password`. Writes only the hash.
"""

from __future__ import annotations

import getpass
import sys

from web.passwords import MAX_PASSWORD_CHARS, hash_password

MIN_PASSWORD_CHARS = 12


def read_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Admin password: ")
        if getpass.getpass("Again: ") != first:
            raise ValueError("the two passwords differ")
        return first
    return sys.stdin.readline().rstrip("\r\n")


def main() -> int:
    try:
        password = read_password()
        if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
            raise ValueError(
                f"the password must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
            )
        encoded = hash_password(password)
    except (ValueError, EOFError, KeyboardInterrupt) as exc:
        sys.stderr.write(f"hash_password: {exc or 'cancelled'}\n")
        return 2
    sys.stdout.write(encoded + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
