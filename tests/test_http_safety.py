import pytest

from connector.coverbase.client import CoverbaseClient
from connector.errors import ConfigError
from connector.http.safety import require_safe_base_url


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:9", "https://api.coverbase.app"])
def test_allowed_base_urls(url):
    assert require_safe_base_url(url, "X") == url


@pytest.mark.parametrize("url", ["http://api.coverbase.app", "http://10.0.0.5", "ftp://x", "api.coverbase.app", ""])
def test_refused_base_urls(url):
    with pytest.raises(ConfigError):
        require_safe_base_url(url, "X")


def test_credentials_in_url_are_refused():
    with pytest.raises(ConfigError, match="credentials"):
        require_safe_base_url("https://user:pw@example.com", "X")


def test_client_refuses_plain_http_to_a_remote_host():
    with pytest.raises(ConfigError, match="plain http"):
        CoverbaseClient("http://api.coverbase.app", "ak_x")


def test_client_requires_an_api_key():
    with pytest.raises(ConfigError, match="COVERBASE_API_KEY"):
        CoverbaseClient("https://api.coverbase.app", "")


def test_client_repr_does_not_show_the_key():
    c = CoverbaseClient("https://api.coverbase.app", "ak_live_supersecret")
    assert "supersecret" not in repr(c)
    c.close()
