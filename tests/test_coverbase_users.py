"""Users: create-or-get (201 new / 200 existing in this org / 409 another org), lookup, archive."""

import pytest

from connector.coverbase.errors import (
    CoverbaseAuthError,
    CoverbaseConflict,
    CoverbaseNotFound,
    CoverbaseValidationError,
)
from connector.coverbase.models import UserCreate, UserUpdate
from connector.emulators.fixtures import FOREIGN_ORG_EMAILS


def test_authtest_succeeds_with_the_key(cb):
    assert cb.auth_test().msg == "Auth successful"


def test_authtest_with_another_key_is_an_authentication_error(coverbase):
    from connector.coverbase.client import CoverbaseClient

    with CoverbaseClient(coverbase.url, "ak_wrong") as bad, pytest.raises(CoverbaseAuthError) as exc:
        bad.auth_test()
    assert exc.value.status == 401 and exc.value.fatal


def test_create_user_returns_201_created(cb):
    res = cb.create_or_get_user(UserCreate(email="new.person@acme.example", first_name="New"))
    assert res.created and res.user.status == "invited" and res.user.id.startswith("cbuser_")


def test_same_email_in_this_org_returns_the_existing_user_with_200(cb):
    first = cb.create_or_get_user(UserCreate(email="Dana.Lee@acme.example"))
    again = cb.create_or_get_user(UserCreate(email="dana.lee@ACME.example"))
    assert not again.created and again.user.id == first.user.id


def test_email_of_another_org_is_409_user_exists(cb):
    with pytest.raises(CoverbaseConflict) as exc:
        cb.create_or_get_user(UserCreate(email=FOREIGN_ORG_EMAILS[0]))
    assert exc.value.code == "user_exists"


def test_invalid_email_is_a_validation_error_on_the_email_field(cb):
    with pytest.raises(CoverbaseValidationError) as exc:
        cb.create_or_get_user(UserCreate(email="not-an-email"))
    assert exc.value.field_errors[0].loc == ("body", "email")


def test_find_by_email_is_case_insensitive_and_includes_archived(cb):
    u = cb.create_or_get_user(UserCreate(email="gone@acme.example")).user
    cb.update_user(u.id, UserUpdate(is_archived=True))
    found = cb.find_user_by_email("GONE@acme.example")
    assert found is not None and found.id == u.id and found.is_archived and found.status == "inactive"


def test_find_by_unknown_email_is_none(cb):
    assert cb.find_user_by_email("nobody@acme.example") is None


def test_users_of_another_org_are_not_found(cb):
    with pytest.raises(CoverbaseNotFound):
        cb.get_user("cbuser_" + "f" * 32)


def test_role_alias_is_normalised(cb):
    u = cb.create_or_get_user(UserCreate(email="boss@acme.example", role="admin")).user
    assert u.role == "org:admin"


def test_iter_users_pages_through_everyone(cb):
    for i in range(7):
        cb.create_or_get_user(UserCreate(email=f"p{i}@acme.example"))
    assert len(list(cb.iter_users(page_size=3))) == 7


def test_request_payload_rejects_unknown_fields():
    with pytest.raises(ValueError):
        UserCreate(email="a@b.c", nickname="x")
