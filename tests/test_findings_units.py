"""The pure parts of the issue → finding mapping (one function each)."""

import pytest

from connector.canonical import CanonicalIssue
from connector.config import parse_config
from connector.sync.entities.finding_payloads import (
    due_seconds,
    finding_fields,
    marker,
    mutable_changes,
    not_propagated,
    record_line,
)


@pytest.mark.parametrize("raw,seconds", [
    ("2026-12-15 00:00:00", 1797292800), ("2026-12-15", 1797292800), ("2026-12-15T01:00:00Z", 1797296400),
    ("2026-12-15T02:00:00+01:00", 1797296400), ("", None), (None, None), ("  ", None),
])
def test_due_dates_become_unix_seconds_in_utc(raw, seconds):
    assert due_seconds(raw) == (seconds, None)


def test_a_due_date_that_is_not_a_date_is_left_out_with_the_reason():
    assert due_seconds("next week") == (None, "due date 'next week' is not a date: sent without a due date")


def findings_cfg(**kw):
    return parse_config({"findings": kw}).findings


@pytest.mark.parametrize("state,expected", [("1", "cbst_new"), ("3", "cbst_done"), ("Closed Complete", "cbst_done"),
                                            ("closed-complete", "cbst_done"), ("2", None), (None, None)])
def test_the_status_map_matches_a_state_by_value_or_by_name(state, expected):
    cfg = findings_cfg(status_map={"1": "cbst_new", "closed_complete": "cbst_done"})
    assert cfg.status_for(state) == expected


def test_state_numbering_is_configurable():
    cfg = findings_cfg(states={"10": "open", "20": "cancelled"}, status_map={"open": "cbst_o"})
    assert cfg.status_for("10") == "cbst_o" and cfg.archives("20") and not cfg.archives("7")
    assert not cfg.known_state("1") and cfg.known_state("Open")


def test_cancelled_is_the_default_archive_state_by_value_or_label():
    cfg = findings_cfg()
    assert cfg.archives("7") and cfg.archives("Cancelled") and not cfg.archives("3") and not cfg.archives(None)


def issue(**kw):
    base = dict(source="servicenow", key="abc", table="sn_vdr_risk_asmt_issue", number="VRI1", title="SOC 2 missing",
                description="Raised in review.", state="1", due_date="2026-12-15")
    return CanonicalIssue(**{**base, **kw})


def test_the_body_is_the_description_plus_a_line_naming_the_record():
    fields, notes = finding_fields(issue(), findings_cfg(status_map={"1": "cbst_new"}))
    assert fields == {"title": "SOC 2 missing", "finding_status_id": "cbst_new", "due_date": 1797292800,
                      "body": "Raised in review.\n\nServiceNow sn_vdr_risk_asmt_issue VRI1 (sys_id abc)"}
    assert notes == [] and marker(issue()) in fields["body"]


def test_no_description_leaves_only_the_record_line_and_no_status_map_leaves_no_note():
    fields, notes = finding_fields(issue(description=None), findings_cfg())
    assert fields["body"] == record_line(issue()) and "finding_status_id" not in fields and notes == []


def test_a_file_export_row_is_named_by_its_key():
    x = issue(source="files", key="I-1", table="issues", number=None)
    assert record_line(x) == "File export issues I-1 (key I-1)" and marker(x) == "(key I-1)"


def test_title_body_and_target_changes_are_not_propagated_status_and_due_date_are():
    held = {"title": "Old", "body": "b", "vendor_id": "V1", "finding_status_id": "s1", "due_date": 1}
    desired = {"title": "New", "body": "b ", "vendor_id": "V2", "finding_status_id": "s2", "due_date": None}
    frozen = not_propagated(held, desired)
    assert len(frozen) == 2 and "title changed" in frozen[0] and "target changed at the source (V1 -> V2)" in frozen[1]
    changes, notes = mutable_changes(held, desired)
    assert changes == {"finding_status_id": "s2"} and "due date no longer set" in notes[0]
