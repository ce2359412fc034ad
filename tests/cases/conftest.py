"""Referral tests reuse the identity-provider fixtures for the API's bearer tokens."""

from tests.auth.conftest import health_idp, idps, police_idp, providers  # noqa: F401
