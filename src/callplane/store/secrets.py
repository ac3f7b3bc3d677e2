"""How credentials are kept: digests of what must never be stored in clear.

- Endpoint passwords: only ``HA1 = md5(username:realm:password)`` (RFC 2617
  section 3.2.2.2, what a registrar needs to verify a SIP digest response).
- API key secrets: SHA-256 hex; secrets are random and long, so no salt or
  slow hash is needed, and the digest can be looked up directly.
- Auth tokens stay readable: webhooks are signed with them (X-Plivo-Signature).
"""

from __future__ import annotations

import hashlib

REALM = "callplane"


def digest_ha1(username: str, password: str, realm: str = REALM) -> str:
    return hashlib.md5(f"{username}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
