"""Unit specifications of the write-back's pure parts: the mapping section, values, markers, notes, signatures."""

import pytest

from connector.config import parse_config
from connector.errors import ConfigError
from connector.webhooks.cli import public_url_problem
from connector.webhooks.signature import sign, verify
from connector.writeback.outcome import (
    Observed,
    attribute_value,
    desired_columns,
    fit_to_column,
    marker_for,
    note_text,
    same_value,
)

OBS = Observed("cbqsrw_" + "a" * 32, "complete", 0.7249, 3, 1796000000)


def wb(**section):
    return parse_config({"write_back": section}).write_back


def test_write_back_is_off_by_default_and_maps_nothing():
    cfg = parse_config({}).write_back
    assert cfg.enabled is False and cfg.fields == {} and cfg.state_map == {}


@pytest.mark.parametrize("section,message", [
    ({"fields": {"stauts": "u_x"}}, "unknown Coverbase attribute(s) ['stauts']"),
    ({"fields": {"status": "comments"}}, "comments never (third-party contacts see them)"),
    ({"fields": {"status": "work_notes"}}, "work notes are written on their own"),
    ({"fields": {"status": "state"}}, "only through write_back.state_map"),
    ({"fields": {"status": "u_a", "findings_count": "u_a"}}, "mapped from more than one attribute"),
    ({"state_map": {"priority": {"complete": "1"}}}, "write_back.state_map.priority"),
    ({"state_map": {"state": {"done": "3"}}}, "unknown Coverbase status(es) ['done']"),
    ({"state_map": {"state": {"complete": ""}}}, "empty ServiceNow value"),
    ({"enabeld": True}, "write_back.enabeld: unknown key"),
])
def test_a_bad_write_back_section_is_a_clear_configuration_error(section, message):
    with pytest.raises(ConfigError) as exc:
        parse_config({"write_back": section})
    assert message in str(exc.value)


def test_state_values_written_as_numbers_in_yaml_are_kept_as_text():
    assert wb(state_map={"state": {"complete": 5}}).state_map == {"state": {"complete": "5"}}


def test_values_are_servicenow_text():
    assert attribute_value(OBS, "score") == "72.5" and attribute_value(OBS, "score_percent") == "0.7249"
    assert attribute_value(OBS, "findings_count") == "3" and attribute_value(OBS, "updated_at") == "2026-11-30 00:53:20"
    unscored = Observed("cbqsrw_x", "created", None, 0, None)
    assert attribute_value(unscored, "score") == "" and attribute_value(unscored, "updated_at") == ""


def test_state_is_written_only_for_statuses_the_value_map_names():
    cfg = wb(fields={"status": "u_coverbase_status"},
             state_map={"state": {"complete": "8"}, "risk_rating": {"failed": "high"}})
    assert desired_columns(OBS, cfg) == {"u_coverbase_status": "complete", "state": "8"}
    assert desired_columns(Observed("x", "review_evals", None, 1, None), cfg) == {"u_coverbase_status": "review_evals"}


def test_numbers_compare_as_numbers_and_text_as_text():
    assert same_value("72.50", "72.5") and same_value(" 3 ", "3") and same_value(None, "")
    assert not same_value("72.5", "72.6") and not same_value("Complete", "complete")


def test_the_marker_is_stable_for_one_change_and_differs_for_the_next():
    a = marker_for("sys1", "cbqsrw_1", 1, OBS.hash)
    assert a == marker_for("sys1", "cbqsrw_1", 1, OBS.hash) and a.startswith("cbwb-") and len(a) == 21
    assert a != marker_for("sys1", "cbqsrw_1", 2, OBS.hash) and a != marker_for("sys2", "cbqsrw_1", 1, OBS.hash)


def test_a_change_is_status_score_or_findings_not_a_timestamp():
    later = Observed(OBS.assessment_id, OBS.status, OBS.score_percent, OBS.findings_count, OBS.updated_at + 60)
    assert later.hash == OBS.hash
    assert Observed(OBS.assessment_id, OBS.status, OBS.score_percent, 4, OBS.updated_at).hash != OBS.hash


def test_the_note_says_status_score_findings_id_and_time_and_carries_its_marker():
    note = note_text(OBS, Observed(OBS.assessment_id, "review_evals", None, 2, None), "cbwb-0123456789abcdef")
    assert note.splitlines() == [
        "Coverbase assessment status: Complete (was Review evals)", "Score: 72.5%", "Findings: 3",
        f"Coverbase assessment id: {OBS.assessment_id}", "Changed in Coverbase at: 2026-11-30 00:53:20 UTC",
        "[cbwb-0123456789abcdef]"]


def test_signatures_verify_the_exact_bytes_in_constant_time_under_any_current_secret():
    body = b'{"event_id":"cbevt_1"}'
    good = sign("secret-one-0123456789", body)
    assert verify(["secret-one-0123456789"], body, good) and verify(["s2-xxxxxxxxxxxxxxx", "secret-one-0123456789"],
                                                                     body, good.upper())
    assert not verify(["secret-one-0123456789"], body + b" ", good) and not verify(["secret-one-0123456789"], body, "")
    assert not verify([], body, good)


@pytest.mark.parametrize("url,ok", [
    ("https://connector.example.com/webhooks/coverbase", True), ("https://93.184.216.34/hook", True),
    ("https://connector.example.com:443/x", True), ("http://connector.example.com/x", False),
    ("https://10.0.0.5/x", False), ("https://[::1]/x", False), ("https://user:pw@example.com/x", False),
    ("https://example.com:8443/x", False), ("https://svc.localhost/x", False),
])
def test_the_register_command_knows_what_coverbase_delivers_to(url, ok):
    assert (public_url_problem(url) is None) is ok


def test_a_value_is_fitted_to_an_integer_column_and_left_alone_otherwise():
    assert fit_to_column("72.5", "integer") == "73" and fit_to_column("72.4", "longint") == "72"
    assert fit_to_column("72.5", "decimal") == "72.5" and fit_to_column("complete", "integer") == "complete"
    assert fit_to_column("", "integer") == ""
