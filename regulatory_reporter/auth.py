"""Verification of the Google-signed OIDC tokens Pub/Sub push (and admins) send as Bearer tokens."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.serialization import load_pem_public_key

GOOGLE_ISSUERS = ("https://accounts.google.com", "accounts.google.com")
LEEWAY_S = 10
# Pub/Sub push sends the same token with every request until it nears expiry (about an hour), so a verified
# token's claims are kept: the RSA signature check is then paid once per token, not once per push.
VERIFIED_TOKENS_KEPT = 256


@dataclass(frozen=True)
class AuthFailure(Exception):
    """Why a request is refused: 401 (no or invalid token) or 403 (valid token, wrong audience or identity)."""

    status: int
    reason: str

    def __str__(self) -> str:
        return f"HTTP {self.status}: {self.reason}"


class OidcVerifier:
    """Checks RS256 signature, expiry, issuer, audience, email and email_verified."""

    def __init__(
        self,
        audience: str,
        certs_url: str | None = None,
        public_key_file: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.audience = audience
        self._clock = clock
        self._public_key: Any = None
        self._jwks: jwt.PyJWKClient | None = None
        self._verified: OrderedDict[str, dict[str, Any]] = OrderedDict()
        if public_key_file is not None:
            self._public_key = load_pem_public_key(public_key_file.read_bytes())
        elif certs_url:
            self._jwks = jwt.PyJWKClient(certs_url, cache_keys=True, lifespan=3600)
        else:
            raise ValueError("either certs_url or public_key_file is needed")

    def _key(self, token: str) -> Any:
        if self._public_key is not None:
            return self._public_key
        assert self._jwks is not None
        try:
            return self._jwks.get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientError as error:
            raise AuthFailure(401, f"token signing key not found: {error}") from error
        except jwt.DecodeError as error:
            raise AuthFailure(401, f"token is malformed: {error}") from error

    def _claims(self, token: str) -> dict[str, Any]:
        """The claims of a token whose signature, audience and expiry check out."""
        claims = self._verified.get(token)
        if claims is not None:
            if claims["exp"] + LEEWAY_S > self._clock():
                return claims
            del self._verified[token]
            raise AuthFailure(401, "token has expired")
        key = self._key(token)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=self.audience,
                options={"require": ["exp", "iat", "iss", "aud"], "verify_aud": True},
                leeway=LEEWAY_S,
            )
        except jwt.InvalidAudienceError as error:
            raise AuthFailure(403, f"token audience is not {self.audience!r}") from error
        except jwt.ExpiredSignatureError as error:
            raise AuthFailure(401, "token has expired") from error
        except jwt.InvalidTokenError as error:
            raise AuthFailure(401, f"token is invalid: {error}") from error
        self._verified[token] = claims
        while len(self._verified) > VERIFIED_TOKENS_KEPT:
            self._verified.popitem(last=False)
        return claims

    def verify(self, authorization: str | None, allowed_emails: Collection[str]) -> dict[str, Any]:
        """The token's claims; AuthFailure says why not."""
        if not authorization:
            raise AuthFailure(401, "no Authorization header: a Bearer OIDC token is required")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthFailure(401, "Authorization header is not 'Bearer <token>'")
        claims = self._claims(token.strip())
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise AuthFailure(401, f"token issuer {claims.get('iss')!r} is not Google")
        email = claims.get("email")
        if email not in allowed_emails:
            raise AuthFailure(403, f"token identity {email!r} is not allowed here")
        if claims.get("email_verified") is not True:
            raise AuthFailure(403, f"token email {email!r} is not verified")
        return claims
