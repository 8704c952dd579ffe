"""Token verification: a verified token is kept, but never past its expiry and never for another identity."""

from __future__ import annotations

import time
from typing import Any

import pytest

from regulatory_reporter.auth import LEEWAY_S, AuthFailure, OidcVerifier
from tests.regulatory_reporter.support import ADMIN_ACCOUNT, AUDIENCE, PUSH_ACCOUNT, SigningKey


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _bearer(signer: SigningKey, **claims: Any) -> str:
    return "Bearer " + signer.token(**claims)


def test_a_kept_token_is_refused_once_it_expires(signer: SigningKey) -> None:
    clock = Clock()
    verifier = OidcVerifier(AUDIENCE, public_key_file=signer.public_pem, clock=clock)
    header = _bearer(signer, expires_in=60)
    first = verifier.verify(header, {PUSH_ACCOUNT})
    assert verifier.verify(header, {PUSH_ACCOUNT}) == first
    clock.now = first["exp"] + LEEWAY_S + 1
    with pytest.raises(AuthFailure) as refused:
        verifier.verify(header, {PUSH_ACCOUNT})
    assert (refused.value.status, refused.value.reason) == (401, "token has expired")


def test_a_kept_token_is_still_checked_for_the_identity_each_route_allows(signer: SigningKey) -> None:
    verifier = OidcVerifier(AUDIENCE, public_key_file=signer.public_pem)
    header = _bearer(signer)
    verifier.verify(header, {PUSH_ACCOUNT})
    with pytest.raises(AuthFailure) as refused:
        verifier.verify(header, {ADMIN_ACCOUNT})
    assert refused.value.status == 403


def test_a_token_signed_by_another_key_is_refused_every_time(signer: SigningKey, impostor: SigningKey) -> None:
    verifier = OidcVerifier(AUDIENCE, public_key_file=signer.public_pem)
    header = _bearer(impostor)
    for _ in range(2):
        with pytest.raises(AuthFailure) as refused:
            verifier.verify(header, {PUSH_ACCOUNT})
        assert refused.value.status == 401
