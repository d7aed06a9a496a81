"""Start-up validation of the write-back mapping against the instance (sys_db_object / sys_dictionary).

ServiceNow ignores unknown columns in a PATCH body and answers 200, so a misspelt
``u_coverbase_scroe`` would never be written and never be reported. Every mapped column, the
``work_notes`` journal and the ``sys_journal_field`` columns the exactly-once check reads are
validated first; a problem stops the run with the column and a suggestion.
"""

from __future__ import annotations

from connector.config import ConnectorConfig
from connector.errors import ConfigError
from connector.servicenow.client import ServiceNowClient
from connector.servicenow.errors import ServiceNowError, ServiceNowNotFound, ServiceNowPermissionDenied
from connector.servicenow.schema import validate_tables
from connector.servicenow.writer import JOURNAL_TABLE, WRITE_ROLE

JOURNAL_COLUMNS = {"element_id", "element", "value", "sys_created_on"}
JOURNAL_TYPES = {"journal_input", "journal", "journal_list"}


def write_back_table(cfg: ConnectorConfig) -> str:
    return cfg.write_back.table or cfg.source.tables["assessments"].table


def validate(client: ServiceNowClient, cfg: ConnectorConfig) -> dict[str, str]:
    """Raise ConfigError naming every problem; return the target table's column types."""
    wb = cfg.write_back
    table = write_back_table(cfg)
    mapped = {*wb.fields.values(), *wb.state_map}
    columns = validate_tables(client, {table: {"work_notes", *mapped}, JOURNAL_TABLE: set(JOURNAL_COLUMNS)})
    types = columns.get(table, {})
    problems = []
    if types.get("work_notes") not in JOURNAL_TYPES:
        problems.append(f"{table}.work_notes is a {types.get('work_notes')!r} column, not a journal field")
    for column in sorted(mapped):
        if types.get(column) in JOURNAL_TYPES:
            problems.append(f"write_back maps {table}.{column}, a journal field: journals only take the work note")
    if problems:
        raise ConfigError("write_back configuration does not match the instance:\n  - " + "\n  - ".join(problems))
    try:  # the exactly-once check reads the journal back: it must be readable
        client.get_json(f"/api/now/table/{JOURNAL_TABLE}", {"sysparm_limit": 1, "sysparm_fields": "sys_id"})
    except (ServiceNowPermissionDenied, ServiceNowNotFound) as exc:
        raise ConfigError(f"the write-back user cannot read {JOURNAL_TABLE} ({exc.message}); it must, to check "
                          f"before re-sending that a work note did not land already. Grant read access to "
                          f"{JOURNAL_TABLE} (with the role {WRITE_ROLE} for the writes).") from None
    except ServiceNowError:
        raise
    return types
