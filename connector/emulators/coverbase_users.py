"""Users of the Coverbase emulator (contract §2.1): create-or-get by email, list, read, patch.

Emails are unique across orgs, case-insensitively: a ``POST`` with an email another org owns is
``409 user_exists``; the same org gets its existing user back (200).
"""

from __future__ import annotations

from typing import Any

from email_validator import EmailNotValidError, validate_email

from connector.emulators.coverbase_errors import coded, invalid
from connector.emulators.coverbase_state import StoreState

ROLE_ALIASES = {
    "member": "org:member", "basic_member": "org:member", "org:basic_member": "org:member",
    "admin": "org:admin",
}
ROLES = {"org:admin", "org:member", "org:siloed_member", "org:guest", "org:auxiliary_member",
         "org:service_account"}


def email_error(value: Any) -> str | None:
    """FastAPI's EmailStr verdict (it uses email-validator), as its 422 message."""
    if not isinstance(value, str):
        return "Input should be a valid string"
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        return f"value is not a valid email address: {exc}"
    return None


def valid_email(value: Any) -> bool:
    return email_error(value) is None


class UserRecords(StoreState):
    """The users part of the store (the caller holds ``lock``)."""

    def _insert_user(self, org: str, email: str, first: str | None, last: str | None, role: str,
                     status: str) -> dict:
        now = self.now()
        user = {"id": self.new_id("cbuser"), "org": org, "email": email, "first_name": first, "last_name": last,
                "role": role, "status": status, "is_archived": False, "created_at": now, "updated_at": now,
                "_seq": self.next_seq()}
        self.users[user["id"]] = user
        self.users_by_email[email.lower()] = user["id"]
        return user

    @staticmethod
    def user_view(u: dict) -> dict:
        return {k: u[k] for k in ("id", "email", "first_name", "last_name", "role", "status", "is_archived",
                                  "created_at", "updated_at")}

    def create_or_get_user(self, org: str, body: dict) -> tuple[int, dict]:
        email = body.get("email")
        if email is None:
            raise invalid((["body", "email"], "Field required", "missing"))
        problem = email_error(email)
        if problem:
            raise invalid((["body", "email"], problem, "value_error"))
        role = body.get("role") or "org:member"
        role = ROLE_ALIASES.get(role, role)
        if role not in ROLES:
            raise invalid((["body", "role"], f"Input should be one of {sorted(ROLES)}", "enum"))
        existing_id = self.users_by_email.get(email.lower())
        if existing_id:
            existing = self.users[existing_id]
            if existing["org"] != org:
                raise coded(409, "user_exists", f"A user with email {email} already exists.")
            return 200, self.user_view(existing)
        user = self._insert_user(org, email, body.get("first_name"), body.get("last_name"), role, "invited")
        return 201, self.user_view(user)

    def user_in_org(self, org: str, user_id: str) -> dict:
        u = self.users.get(user_id)
        if not u or u["org"] != org:
            raise coded(404, "user_not_found", "User not found.")
        return u

    def list_users(self, org: str, email: str | None, include_archived: bool) -> list[dict]:
        if email is not None:
            uid = self.users_by_email.get(email.strip().lower())
            u = self.users.get(uid) if uid else None
            return [self.user_view(u)] if u and u["org"] == org else []
        rows = [u for u in self.users.values() if u["org"] == org and (include_archived or not u["is_archived"])]
        rows.sort(key=lambda u: -u["_seq"])
        return [self.user_view(u) for u in rows]

    def patch_user(self, org: str, user_id: str, body: dict) -> dict:
        u = self.user_in_org(org, user_id)
        if body.get("role") is not None:
            role = ROLE_ALIASES.get(body["role"], body["role"])
            if role not in ROLES:
                raise invalid((["body", "role"], f"Input should be one of {sorted(ROLES)}", "enum"))
            u["role"] = role
        if body.get("is_archived") is not None:
            u["is_archived"] = bool(body["is_archived"])
            u["status"] = "inactive" if u["is_archived"] else "active"
        u["updated_at"] = self.now()
        return self.user_view(u)
