"""Both clients take the same connection settings (connector/http/plumbing.py), check them, and
reach every part that waits when the run's deadline is set."""

from __future__ import annotations

import httpx
import pytest

from connector.coverbase.client import CoverbaseClient
from connector.deadline import Deadline
from connector.servicenow.client import ServiceNowClient

MOCK = httpx.MockTransport(lambda request: httpx.Response(200, json={"result": []}))


def _clients(**options):
    return [CoverbaseClient("http://127.0.0.1:9", "key", transport=MOCK, **options),
            ServiceNowClient("http://127.0.0.1:9", username="u", password="p", transport=MOCK, **options)]


@pytest.mark.parametrize("make", [
    lambda: CoverbaseClient("http://127.0.0.1:9", "key", max_concurency=4),
    lambda: ServiceNowClient("http://127.0.0.1:9", username="u", password="p", time_out=5),
])
def test_a_misspelt_option_is_refused_by_name(make):
    with pytest.raises(TypeError, match="max_concurency|time_out"):
        make()


def test_the_same_options_mean_the_same_in_both_clients():
    for client in _clients(max_concurrency=3, rate_limit_per_second=5.0, timeout=7.0):
        assert client.gate.max_concurrency == 3
        assert client.gate.rate_limit_per_second == 5.0
        assert client.plumbing.timeouts.read == 7.0 and client.plumbing.timeouts.connect == 15.0
        client.close()


def test_each_client_keeps_its_own_defaults():
    cb, sn = _clients()
    assert cb.gate.max_concurrency == 8 and sn.gate.max_concurrency == 4
    assert sn.retry.max_retries == 6 and cb.retry.max_retries == 5
    cb.close()
    sn.close()


def test_set_deadline_reaches_the_gate_and_every_transport():
    deadline = Deadline(30)
    for client in _clients():
        client.set_deadline(deadline)
        assert client.deadline is deadline and client.gate.deadline is deadline
        assert all(t.deadline is deadline for t in client.plumbing.transports)
        client.close()


def test_oauth_credentials_close_their_token_endpoint_with_the_client():
    sn = ServiceNowClient("http://127.0.0.1:9", client_id="id", client_secret="s", transport=MOCK)
    sn.close()
    assert sn.credentials.closed
