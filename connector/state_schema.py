"""The state DB's schema, as numbered migrations applied forward on open (``StateDB.migrate``).

A migration is never edited once released: a change to the schema is a new function appended to
``MIGRATIONS`` with a higher number. Numbers only grow; they need not be contiguous (4 is unused).
"""

from __future__ import annotations

import sqlite_utils


def m001_initial(db: sqlite_utils.Database) -> None:
    db.execute("""CREATE TABLE staging (
        stream TEXT NOT NULL, source TEXT NOT NULL, key TEXT NOT NULL,
        updated_on TEXT, mod_count TEXT, record TEXT NOT NULL,
        deleted_at TEXT, force INTEGER NOT NULL DEFAULT 0,
        kind TEXT, kind_version TEXT, kind_reason TEXT,
        extracted_at TEXT NOT NULL, run_id TEXT,
        PRIMARY KEY (stream, source, key))""")
    db.execute("""CREATE TABLE ledger (
        entity TEXT NOT NULL, source TEXT NOT NULL, source_key TEXT NOT NULL,
        label TEXT, coverbase_id TEXT, parent_id TEXT,
        payload_hash TEXT, payload TEXT, content_sha256 TEXT,
        last_operation TEXT, status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at TEXT,
        error_class TEXT, error_message TEXT,
        idempotency_key TEXT, idem_generation INTEGER NOT NULL DEFAULT 1,
        run_id TEXT, first_synced_at TEXT, updated_at TEXT NOT NULL,
        PRIMARY KEY (entity, source, source_key))""")
    db.execute("CREATE INDEX ledger_status ON ledger (entity, status)")
    db.execute("CREATE INDEX ledger_coverbase_id ON ledger (coverbase_id)")
    db.execute("""CREATE TABLE cursors (
        source TEXT NOT NULL, stream TEXT NOT NULL, updated_on TEXT, sys_id TEXT,
        server_started_at TEXT, run_id TEXT, updated_at TEXT NOT NULL,
        PRIMARY KEY (source, stream))""")
    db.execute("""CREATE TABLE runs (
        run_id TEXT PRIMARY KEY, mode TEXT NOT NULL, source TEXT, status TEXT NOT NULL,
        started_at TEXT NOT NULL, finished_at TEXT, summary TEXT, error TEXT)""")
    db.execute("""CREATE TABLE changelog (
        id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, run_id TEXT,
        entity TEXT NOT NULL, source TEXT NOT NULL, source_key TEXT NOT NULL,
        operation TEXT NOT NULL, coverbase_id TEXT, payload_hash TEXT,
        status TEXT NOT NULL, http_status INTEGER, error TEXT)""")
    # A dry run "creates" parents here so children plan as they would for real; never Coverbase.
    db.execute("""CREATE TABLE dry_run_ids (
        run_id TEXT NOT NULL, entity TEXT NOT NULL, source_key TEXT NOT NULL, coverbase_id TEXT NOT NULL,
        PRIMARY KEY (run_id, entity, source_key))""")


def m002_request_ids(db: sqlite_utils.Database) -> None:
    """Keep the API request id of the last write, and find a record's history fast."""
    db.execute("ALTER TABLE ledger ADD COLUMN request_id TEXT")
    db.execute("ALTER TABLE changelog ADD COLUMN request_id TEXT")
    db.execute("CREATE INDEX changelog_record ON changelog (entity, source, source_key)")


def m003_repairs_and_bom_verdicts(db: sqlite_utils.Database) -> None:
    """Issue 12: what was repaired (and the name the source had), advisory warnings, what the
    connector read in a BOM and what Coverbase's parser made of it. Attachments classified by
    the old 64 KiB sniff, or left unprobed for an unsafe name, are probed again once."""
    for col, kind in (("original_name", "TEXT"), ("repairs", "TEXT"), ("warnings", "TEXT"), ("bom_format", "TEXT"),
                      ("bom_spec_version", "TEXT"), ("component_count", "INTEGER"), ("parse_status", "TEXT"),
                      ("parse_error", "TEXT"), ("parsed_component_count", "INTEGER")):
        db.execute(f"ALTER TABLE ledger ADD COLUMN {col} {kind}")
    db.execute("UPDATE staging SET kind_version = NULL WHERE stream = 'attachments' AND kind = 'document'")




def m005_write_back(db: sqlite_utils.Database) -> None:
    """Write-back of assessment outcomes (issue 15): verified Coverbase webhook events (deduplicated by
    event id; nudges the outcomes sensor acts on) and the sensor's round-robin of polled assessments.
    The write-back's own state is in ``ledger`` (entity ``assessment_outcome``) and ``changelog``."""
    db.execute("""CREATE TABLE webhook_events (
        event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, assessment_id TEXT, old_status TEXT,
        new_status TEXT, occurred_at INTEGER, received_at TEXT NOT NULL, signature_sha256 TEXT NOT NULL,
        deliveries INTEGER NOT NULL DEFAULT 1, last_delivery_at TEXT, processed_at TEXT, outcome TEXT)""")
    db.execute("CREATE INDEX webhook_events_open ON webhook_events (event_type, processed_at)")
    db.execute("""CREATE TABLE outcome_polls (
        assessment_id TEXT PRIMARY KEY, source_key TEXT NOT NULL, polled_at TEXT NOT NULL,
        observed_hash TEXT, observed_status TEXT, error TEXT)""")


def m006_staging_version(db: sqlite_utils.Database) -> None:
    """A counter every change to ``staging`` bumps (by trigger, so no write path can forget it):
    a snapshot built from staging stays valid while the counter has not moved, so one run's push
    steps share one snapshot instead of rebuilding it each (``SyncEngine.snapshot``)."""
    db.execute("INSERT OR IGNORE INTO meta (key, value) VALUES ('staging_version', '0')")
    bump = "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'staging_version'"
    for name, event in (("staging_ins", "INSERT"), ("staging_upd", "UPDATE"), ("staging_del", "DELETE")):
        db.execute(f"CREATE TRIGGER {name} AFTER {event} ON staging BEGIN {bump}; END")


MIGRATIONS = [(1, m001_initial), (2, m002_request_ids), (3, m003_repairs_and_bom_verdicts),
              (5, m005_write_back), (6, m006_staging_version)]
SCHEMA_VERSION = MIGRATIONS[-1][0]
