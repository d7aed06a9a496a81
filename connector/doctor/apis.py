"""The doctor's checks of the two APIs, with the configured credentials.

Reads only; short timeouts and a small retry budget, bounded by a deadline, so an unreachable
API costs seconds, not the run's patience. Error texts come from the API error classes, which
never carry a secret.
"""

from __future__ import annotations

from collections.abc import Callable

from connector.coverbase.client import CoverbaseClient
from connector.deadline import Deadline
from connector.doctor.report import Row, fail, ok, skip, warn
from connector.errors import (
    ApiError,
    AuthenticationError,
    ConfigError,
    PermissionDeniedError,
    TransportError,
    UnexpectedResponseError,
)
from connector.http.retrying import RetrySettings
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import ServiceNowBadRequest
from connector.servicenow.schema import fields_in_query, table_problems
from connector.settings import Settings

RETRY = RetrySettings(max_retries=2, backoff_initial=0.5, backoff_max=2.0, max_total_wait=10.0,
                      rate_limit_default_wait=1.0, max_single_wait=10.0)
TIMEOUT = 15.0
DEADLINE = 120.0
READ_ROLE = ("Grant the integration user read access to {what} (the TPRM reviewer role "
             "sn_vdr_risk_asmt.vendor_assessment_reviewer, or snc_read_only plus an ACL)")


def _unreachable(check: str, exc: ApiError, setting: str) -> Row:
    if isinstance(exc, TransportError):
        return fail(check, f"cannot connect: {exc.message}",
                    f"Check {setting}, DNS, proxies and firewalls from this machine")
    if isinstance(exc, UnexpectedResponseError):
        return fail(check, f"the answer is not the API's: {exc.message}",
                    f"Check {setting} (the API's base URL); a ServiceNow instance may be hibernating")
    return fail(check, str(exc), f"Check {setting}; try again if the API reports an outage")


# --- Coverbase ----------------------------------------------------------------------------------


def coverbase_rows(s: Settings) -> list[Row]:
    try:
        client = CoverbaseClient(s.coverbase_url, s.coverbase_key, timeout=TIMEOUT, retry=RETRY,
                                 deadline=Deadline(DEADLINE))
    except ConfigError as exc:
        return [fail("Coverbase API", str(exc), "See the COVERBASE_* rows above")]
    rows: list[Row] = []
    with client:
        try:
            answer = client.auth_test()
        except AuthenticationError as exc:
            return [fail("Coverbase API key", f"{s.coverbase_url} refused the key: {exc.message}",
                         "Set COVERBASE_API_KEY to a valid key of a service account of your org (an org admin mints "
                         "them; a revoked or expired key answers 401)")]
        except ApiError as exc:
            return [_unreachable("Coverbase API", exc, "COVERBASE_API_URL")]
        rows.append(ok("Coverbase API key", f"{s.coverbase_url} accepted the key ({answer.msg})"))
        rows.append(_bom_entitlement(client, s))
        rows.append(_workflow(client, s))
    return rows


def _bom_entitlement(client: CoverbaseClient, s: Settings) -> Row:
    check = "Coverbase BOM entitlement"
    if s.config is not None and not s.config.boms.enabled:
        return skip(check, "not needed: boms.enabled is false in the mapping file")
    try:
        vendor = next(client.iter_vendors(page_size=1), None)
        if vendor is None:
            return warn(check, "not probed: the org has no vendor yet, and the probe needs one",
                        "Nothing to do now: the first sync probes it (an org without it gets its SBOMs deferred); "
                        "run the doctor again after it")
        entitled = client.bom_entitled(vendor.id)
    except ApiError as exc:
        return fail(check, f"the probe failed: {exc}", "Run the doctor again; if it persists, ask Coverbase support")
    if entitled:
        return ok(check, "on: SBOMs are uploaded through the BOM flow")
    return fail(check, "off: every /v1/bill_of_materials route answers 404, so every SBOM would stay deferred",
                "Ask Coverbase to enable the bill-of-materials feature for your org, or set boms.enabled: false in "
                "the mapping file (README: The mapping file)")


def _workflow(client: CoverbaseClient, s: Settings) -> Row:
    check = "Coverbase workflow"
    name = s.config.assessments.trigger_workflow if s.config is not None else None
    if not name:
        return skip(check, "none configured (assessments.trigger_workflow)")
    try:
        exists = client.workflow_exists(name)
    except ApiError as exc:
        return fail(check, f"could not look up workflow {name!r}: {exc}", "Run the doctor again")
    if exists:
        return ok(check, f"workflow {name!r} exists")
    return fail(check, f"workflow {name!r} does not exist in the org: every assessment's workflow start would be "
                       "rejected", "Create the workflow in Coverbase, or correct assessments.trigger_workflow in the "
                       "mapping file (README: The mapping file)")


# --- ServiceNow ---------------------------------------------------------------------------------


def servicenow_rows(s: Settings) -> list[Row]:
    cfg = s.config
    try:
        client = ServiceNowClient(s.servicenow_url, username=s.servicenow_username or None,
                                  password=s.servicenow_password or None, client_id=s.servicenow_client_id or None,
                                  client_secret=s.servicenow_client_secret or None, timeout=TIMEOUT, retry=RETRY,
                                  deadline=Deadline(DEADLINE))
    except ConfigError as exc:
        return [fail("ServiceNow", str(exc), "See the SERVICENOW_* rows above")]
    with client:
        first = _credentials(client, s)
        if first.failed:
            return [first]
        rows = [first]
        rows += _system_tables(client)
        columns, dictionary_rows = _dictionary(client, s, readable=all(not r.failed for r in rows))
        rows += dictionary_rows
        if cfg is not None:
            rows += [_table(client, name, spec, columns) for name, spec in cfg.source.tables.items()]
    return rows


def _credentials(client: ServiceNowClient, s: Settings) -> Row:
    kind = {"basic": "Basic", "oauth": "OAuth"}.get(client.credentials.kind, client.credentials.kind)
    try:
        client.get_json("/api/now/table/sys_user", {"sysparm_limit": 1, "sysparm_fields": "sys_id"})
    except AuthenticationError:
        fix = ("Check SERVICENOW_CLIENT_ID / SERVICENOW_CLIENT_SECRET (System OAuth > Application Registry)"
               + (" and SERVICENOW_USERNAME / SERVICENOW_PASSWORD (the password grant)"
                  if s.servicenow_username else "")
               if client.credentials.kind == "oauth" else
               "Check SERVICENOW_USERNAME and SERVICENOW_PASSWORD (the integration user's; it must not be locked "
               "out, and 'Web service access only' users work)")
        return fail("ServiceNow credentials", f"{s.servicenow_url} rejected the {kind} credentials (401)", fix)
    except PermissionDeniedError:
        pass  # signed in, but sys_user is not readable: the credentials work; its table row says the rest
    except ApiError as exc:
        return _unreachable("ServiceNow", exc, "SERVICENOW_INSTANCE_URL")
    return ok("ServiceNow credentials", f"{s.servicenow_url} accepted the {kind} credentials")


def _probe(read: Callable[[], object], check: str, what: str) -> Row:
    try:
        read()
    except PermissionDeniedError as exc:
        return fail(check, f"not readable: {exc.message}", READ_ROLE.format(what=what))
    except ApiError as exc:
        return fail(check, f"read failed: {exc}", "Run the doctor again; if it persists, check the instance's logs")
    return ok(check, "readable")


def _system_tables(client: ServiceNowClient) -> list[Row]:
    return [
        _probe(lambda: client.get_json("/api/now/attachment", {"sysparm_limit": 1}), "ServiceNow: sys_attachment",
               "sys_attachment (the Attachment API: documents and SBOMs)"),
        _probe(lambda: client.get_json("/api/now/table/sys_db_object", {"sysparm_limit": 1, "sysparm_fields": "name"}),
               "ServiceNow: sys_db_object", "sys_db_object (table definitions, for the start-of-run check)"),
        _probe(lambda: client.get_json("/api/now/table/sys_dictionary", {"sysparm_limit": 1, "sysparm_fields": "name"}),
               "ServiceNow: sys_dictionary", "sys_dictionary (field definitions, for the start-of-run check)"),
    ]


def _dictionary(client: ServiceNowClient, s: Settings, *,
                readable: bool) -> tuple[dict[str, dict[str, str]], list[Row]]:
    check = "mapping vs the instance"
    if s.config is None:
        return {}, [skip(check, "not checked: the mapping file has problems (see CONNECTOR_CONFIG)")]
    if not readable:
        return {}, [skip(check, "not checked: sys_db_object / sys_dictionary are not readable")]
    wanted: dict[str, set[str]] = {"sys_attachment": {"file_name", "table_name", "table_sys_id", "size_bytes"}}
    optional = {spec.table for spec in s.config.source.tables.values() if spec.optional}
    for spec in s.config.source.tables.values():
        wanted.setdefault(spec.table, set()).update(spec.fields, fields_in_query(spec.filter))
    try:
        columns, problems = table_problems(client, wanted)
    except (ConfigError, ApiError) as exc:
        return {}, [fail(check, str(exc), "Grant read access to sys_db_object and sys_dictionary")]
    rows = [fail(check, p, "Correct the table or field in the mapping file (README: The mapping file)")
            for t in sorted(problems) if t not in optional for p in problems[t]]
    rows += [warn(check, p, "Optional lookup: runs skip it with a warning") for t in sorted(problems) if t in optional
             for p in problems[t]]
    if not rows:
        rows.append(ok(check, f"every mapped table and field exists ({len(wanted)} tables)"))
    return columns, rows


def _table(client: ServiceNowClient, name: str, spec, columns: dict[str, dict[str, str]]) -> Row:
    check = f"ServiceNow: {spec.table}"
    params = {"sysparm_limit": 1, "sysparm_fields": ",".join(spec.fields), "sysparm_query": spec.filter,
              "sysparm_exclude_reference_link": "true"}
    try:
        rows = client.get_json(f"/api/now/table/{spec.table}", params)["result"]
    except PermissionDeniedError as exc:
        if spec.optional:
            return warn(check, f"not readable ({exc.message}): an optional lookup, skipped by runs",
                        READ_ROLE.format(what=spec.table) + " if you use it")
        return fail(check, f"not readable: {exc.message}", READ_ROLE.format(what=spec.table))
    except ServiceNowBadRequest as exc:
        if spec.optional:
            return warn(check, f"not on this instance ({exc.message}): an optional lookup, skipped by runs")
        return fail(check, f"not on this instance: {exc.message}",
                    f"Install or activate the application that provides it, or map source.tables.{name}.table to "
                    "the right table (README: The mapping file)")
    except ApiError as exc:
        return fail(check, f"read failed: {exc}", "Run the doctor again; if it persists, check the instance's logs")
    if not rows:
        return ok(check, f"readable ({name}); no record matches {spec.filter!r} yet" if spec.filter
                  else f"readable ({name}); no records yet")
    known = columns.get(spec.table, {})
    hidden = sorted(f for f in spec.fields if f not in rows[0] and (not known or f in known))
    if hidden:
        return fail(check, f"fields hidden from the integration user (field ACLs): {', '.join(hidden)}",
                    f"Grant read on {', '.join(f'{spec.table}.{f}' for f in hidden)} (field-level ACLs)")
    return ok(check, f"readable ({name}): {len(spec.fields)} mapped fields visible")
