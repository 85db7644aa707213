"""Shared SDK clients: one session, lent to libraries only while they are set up."""

from __future__ import annotations

import botocore.session

from orderflow.adapters.clients import sessions_shared, shared_client


def test_a_service_has_one_client_and_a_lent_session_is_given_back() -> None:
    original = botocore.session.get_session

    with sessions_shared():
        lent = botocore.session.get_session()
        assert botocore.session.get_session() is lent

    assert botocore.session.get_session is original
    assert botocore.session.get_session() is not lent
    assert shared_client("xray") is shared_client("xray")
