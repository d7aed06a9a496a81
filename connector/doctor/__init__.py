"""``python -m connector doctor``: is this installation ready to sync? One table, every check.

Checks, for the configured instance: every setting (``connector/settings.py``), both APIs (reached,
credentials accepted), the ServiceNow roles (each mapped table and field readable, the Attachment
API, sys_db_object and sys_dictionary, the mapping against the instance's dictionary), the
Coverbase BOM entitlement and the workflow the mapping names, the state DB (path, permissions,
schema, the writer lock) and the Dagster instance (DAGSTER_HOME, run monitoring, the writer pool).
Each row says what was checked, the result and how to fix it. The exit code is 0 only when no
check failed (a warning is not a failure). Nothing it prints contains a secret.
"""

from __future__ import annotations

from connector.doctor.report import Row

__all__ = ["Row"]
