"""The sentence a user acts on when the start-of-run check of an API fails.

A failure is labelled by what it is: a configuration problem is not "connectivity", a refused key
is not an unreachable host. Used by the run's preflight (engine and Dagster resources) and by the
doctor, so both say the same thing. Messages never contain a secret (API errors do not carry one).
"""

from __future__ import annotations

from connector.errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    PermissionDeniedError,
    TransportError,
    UnexpectedResponseError,
)


def coverbase_failure(exc: BaseException, url: str = "") -> str:
    where = f" at {url}" if url else ""
    if isinstance(exc, ConfigError):
        return f"Coverbase settings: {exc}"
    if isinstance(exc, AuthenticationError):
        return (f"Coverbase refused the API key: {exc}. Set COVERBASE_API_KEY to a valid key of a service account "
                "of your org (keys are minted by an org admin; a revoked or expired key answers 401).")
    if isinstance(exc, PermissionDeniedError):
        return f"Coverbase refused the request with this key: {exc}. Use a key of the org the connector syncs to."
    if isinstance(exc, TransportError):
        return (f"Coverbase is unreachable{where}: {exc}. Check COVERBASE_API_URL, DNS, proxies and firewalls "
                "from this machine.")
    if isinstance(exc, UnexpectedResponseError):
        return (f"Coverbase connectivity check failed: the answer{where} is not Coverbase's API ({exc}). Check "
                "COVERBASE_API_URL (the API's base URL, not the dashboard's).")
    if isinstance(exc, ApiError):
        return f"Coverbase connectivity check failed{where}: {exc}"
    return f"Coverbase connectivity check failed{where}: {type(exc).__name__}: {exc}"


def servicenow_failure(exc: BaseException, url: str = "") -> str:
    where = f" at {url}" if url else ""
    if isinstance(exc, ConfigError):
        return str(exc)  # already names the setting or the table and field (schema validation)
    if isinstance(exc, AuthenticationError):
        return f"{exc}" if "SERVICENOW" in str(exc) or "OAuth" in str(exc) else (
            f"ServiceNow rejected the credentials: {exc}. Check SERVICENOW_USERNAME / SERVICENOW_PASSWORD "
            "(or SERVICENOW_CLIENT_ID / SERVICENOW_CLIENT_SECRET).")
    if isinstance(exc, PermissionDeniedError):
        return (f"ServiceNow refused a read: {exc}. The integration user lacks a role or an ACL; grant it read access "
                "to the mapped tables, sys_attachment, sys_db_object and sys_dictionary "
                "(`python -m connector doctor` lists which).")
    if isinstance(exc, TransportError):
        return (f"ServiceNow is unreachable{where}: {exc}. Check SERVICENOW_INSTANCE_URL, DNS, proxies and "
                "firewalls from this machine.")
    if isinstance(exc, UnexpectedResponseError):
        return (f"ServiceNow answered something that is not its REST API{where} ({exc}): a hibernating instance, "
                "a login page or a wrong SERVICENOW_INSTANCE_URL.")
    if isinstance(exc, ApiError):
        return f"ServiceNow connectivity check failed{where}: {exc}"
    return f"ServiceNow connectivity check failed{where}: {type(exc).__name__}: {exc}"
