"""Referral tests reuse the identity-provider fixtures for the API's bearer tokens."""

from tests.auth.conftest import idps, health_idp, police_idp, providers  # noqa: F401
