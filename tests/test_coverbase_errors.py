"""Every error envelope of contract §1.5 becomes a typed error carrying status, code and message."""

import httpx
import pytest

from connector.coverbase.errors import (
    CoverbaseAuthError,
    CoverbaseBadRequest,
    CoverbaseConflict,
    CoverbaseNotFound,
    CoverbasePayloadTooLarge,
    CoverbaseRateLimited,
    CoverbaseServerError,
    CoverbaseValidationError,
    error_from_response,
)


def err(status, body=None, headers=None, text=None):
    if text is not None:
        resp = httpx.Response(status, text=text, headers=headers)
    else:
        resp = httpx.Response(status, json=body, headers=headers)
    return error_from_response(resp, "POST", "/v1/x")


def test_coded_detail_gives_code_and_message():
    e = err(404, {"detail": {"code": "vendor_not_found", "message": "Vendor not found."}})
    assert isinstance(e, CoverbaseNotFound)
    assert (e.status, e.code, e.message) == (404, "vendor_not_found", "Vendor not found.")
    assert e.method == "POST" and e.path == "/v1/x"


def test_free_form_error_detail_is_the_message():
    e = err(400, {"detail": {"error": "Invalid vendor_id"}})
    assert isinstance(e, CoverbaseBadRequest) and e.message == "Invalid vendor_id" and e.code is None


def test_error_with_value_mentions_the_value():
    e = err(422, {"detail": {"error": "Invalid CIDR in api_ip_allowlist", "value": "not-a-cidr"}})
    assert "not-a-cidr" in e.message


def test_validation_array_keeps_field_locations():
    e = err(422, {"detail": [{"loc": ["body", "vendor_id"], "msg": "Field required", "type": "missing", "input": {}}]})
    assert isinstance(e, CoverbaseValidationError)
    assert e.field_errors[0].loc == ("body", "vendor_id")
    assert e.field_errors[0].type == "missing"
    assert "vendor_id: Field required" in e.message


def test_string_detail_on_401_is_an_authentication_error():
    e = err(401, {"detail": "Invalid or expired API key."})
    assert isinstance(e, CoverbaseAuthError) and e.fatal and e.message == "Invalid or expired API key."


def test_oauth_style_error_body_is_understood():
    e = err(400, {"error": "invalid_client", "error_description": "bad secret"})
    assert e.code == "invalid_client" and e.message == "bad secret"


def test_html_error_body_is_reported_not_crashed_on():
    e = err(502, text="<html><body>Bad Gateway</body></html>")
    assert isinstance(e, CoverbaseServerError) and e.retryable and "non-JSON" in e.message


def test_429_reads_retry_after_from_detail_before_header():
    e = err(429, {"detail": {"code": "rate_limited", "message": "slow", "retry_after": 0.25}}, {"Retry-After": "1"})
    assert isinstance(e, CoverbaseRateLimited) and e.retry_after == 0.25


def test_429_falls_back_to_retry_after_header():
    e = err(429, {"detail": "Too many"}, {"Retry-After": "3"})
    assert e.retry_after == 3.0


def test_409_and_413_map_to_their_kinds():
    assert isinstance(err(409, {"detail": {"code": "user_exists", "message": "x"}}), CoverbaseConflict)
    assert isinstance(err(413, {"detail": {"code": "file_too_large", "message": "x"}}), CoverbasePayloadTooLarge)


@pytest.mark.parametrize("status,retryable", [(500, True), (502, True), (503, True), (504, True), (501, False)])
def test_which_server_errors_are_retryable(status, retryable):
    assert err(status, {"detail": "x"}).retryable is retryable


def test_request_id_header_is_carried():
    e = err(404, {"detail": {"code": "x", "message": "y"}}, {"X-Request-Id": "req_42"})
    assert e.request_id == "req_42" and "req_42" in str(e)
