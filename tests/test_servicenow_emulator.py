"""The ServiceNow emulator follows the checklist of servicenow.md (raw HTTP, no connector code)."""

import base64
import hashlib
import json

import httpx
import pytest

from connector.emulators import fixtures as fx


@pytest.fixture
def http(servicenow):
    with httpx.Client(base_url=servicenow.url, auth=(fx.DEMO_SN_USER, fx.DEMO_SN_PASSWORD), timeout=30) as c:
        yield c


def test_wrong_credentials_get_the_servicenow_401_body(servicenow):
    r = httpx.get(f"{servicenow.url}/api/now/table/core_company", auth=("x", "y"))
    assert r.status_code == 401
    assert r.json() == {"error": {"message": "User Not Authenticated",
                                  "detail": "Required to provide Auth information"},
                        "status": "failure"}


def test_unknown_table_is_400_invalid_table(http):
    r = http.get("/api/now/table/core_compnay")
    assert r.status_code == 400 and r.json()["error"]["message"] == "Invalid table core_compnay"


def test_non_positive_limit_is_400(http):
    assert http.get("/api/now/table/core_company", params={"sysparm_limit": 0}).status_code == 400


def test_v1_answers_404_on_no_match_where_v2_answers_an_empty_list(http):
    params = {"sysparm_query": "name=No Such Company"}
    assert http.get("/api/now/v1/table/core_company", params=params).status_code == 404
    r = http.get("/api/now/v2/table/core_company", params=params)
    assert r.status_code == 200 and r.json() == {"result": []}


def test_every_raw_value_is_a_string(http):
    rows = http.get("/api/now/table/core_company",
                    params={"sysparm_limit": 5, "sysparm_exclude_reference_link": "true"}).json()["result"]
    assert all(isinstance(v, str) for r in rows for v in r.values())


@pytest.mark.parametrize("dv,excl,expected_keys", [
    ("false", "false", {"link", "value"}), ("false", "true", None), ("true", "false", {"display_value", "link"}),
    ("true", "true", None), ("all", "false", {"display_value", "link", "value"}),
    ("all", "true", {"display_value", "value"}),
])
def test_reference_field_shapes(http, dv, excl, expected_keys):
    row = http.get("/api/now/table/core_company", params={
        "sysparm_query": "vendor=true^contactISNOTEMPTY", "sysparm_limit": 1, "sysparm_fields": "contact",
        "sysparm_display_value": dv, "sysparm_exclude_reference_link": excl}).json()["result"][0]
    if expected_keys is None:
        assert isinstance(row["contact"], str)
    else:
        assert set(row["contact"]) == expected_keys


def test_display_values_render_dates_in_the_user_time_zone(http):
    row = http.get("/api/now/table/core_company", params={"sysparm_limit": 1, "sysparm_fields": "sys_updated_on",
                                                          "sysparm_display_value": "all"}).json()["result"][0]
    assert row["sys_updated_on"]["value"][4] == "-" and "/" in row["sys_updated_on"]["display_value"]


def test_glide_list_is_a_comma_separated_string(servicenow, http):
    vid = next(sid for sid, r in servicenow.emu.tables["core_company"].items() if "," in r["vendor_manager"])
    row = http.get(f"/api/now/table/core_company/{vid}", params={"sysparm_fields": "vendor_manager"}).json()["result"]
    assert isinstance(row["vendor_manager"], str) and "," in row["vendor_manager"]


def test_link_and_total_count_headers(http):
    r = http.get("/api/now/table/core_company", params={"sysparm_limit": 10, "sysparm_query": "ORDERBYsys_id"})
    assert r.headers["X-Total-Count"] == "33"
    links = r.headers["Link"]
    assert 'rel="first"' in links and 'rel="next"' in links and 'rel="last"' in links and 'rel="prev"' not in links
    assert '",<' in links and ', <' not in links and links.startswith("<http://")


def test_no_count_and_suppress_pagination_remove_the_headers(http):
    r = http.get("/api/now/table/core_company", params={"sysparm_no_count": "true",
                                                        "sysparm_suppress_pagination_header": "true"})
    assert "X-Total-Count" not in r.headers and "Link" not in r.headers


def test_order_is_unstable_without_orderby(http):
    orders = {tuple(r["sys_id"] for r in http.get("/api/now/table/sys_user",
                                                  params={"sysparm_fields": "sys_id"}).json()["result"])
              for _ in range(3)}
    assert len(orders) > 1


def test_orderby_desc_and_multi_key(http):
    rows = http.get("/api/now/table/sys_user", params={"sysparm_query": "ORDERBYDESCsys_updated_on^ORDERBYsys_id",
                                                       "sysparm_fields": "sys_id,sys_updated_on"}).json()["result"]
    keys = [(r["sys_updated_on"], r["sys_id"]) for r in rows]
    assert keys == sorted(keys, key=lambda k: (_neg(k[0]), k[1]))


def _neg(s):
    return tuple(-ord(c) for c in s)


def test_unknown_query_field_is_silently_dropped(http):
    every = http.get("/api/now/table/core_company").json()["result"]
    r = http.get("/api/now/table/core_company", params={"sysparm_query": "vendr=true"})
    assert len(r.json()["result"]) == len(every)


def test_unknown_query_field_can_return_no_rows_instead(servicenow, http):
    servicenow.emu.set_faults({"invalid_query_returns_no_rows": True})
    assert http.get("/api/now/table/core_company", params={"sysparm_query": "vendr=true"}).json()["result"] == []


def test_unknown_sysparm_fields_are_ignored(http):
    row = http.get("/api/now/table/core_company",
                   params={"sysparm_limit": 1, "sysparm_fields": "name,nmae"}).json()["result"][0]
    assert set(row) == {"name"}


def test_row_acls_make_short_pages(servicenow, http):
    servicenow.emu.set_faults({"acl_hide_rate": 0.3})
    r = http.get("/api/now/table/sys_user", params={"sysparm_limit": 20, "sysparm_query": "ORDERBYsys_id"})
    assert len(r.json()["result"]) < 20 and int(r.headers["X-Total-Count"]) > 20


def test_parent_table_query_returns_subclass_rows(http):
    classes = {r["sys_class_name"] for r in http.get("/api/now/table/sys_user",
                                                     params={"sysparm_fields": "sys_class_name"}).json()["result"]}
    assert classes == {"sys_user", "vm_vdr_contact"}


def test_schema_tables_describe_the_columns(http):
    rows = http.get("/api/now/table/sys_dictionary",
                    params={"sysparm_query": "name=core_company^element=vendor_manager"}).json()["result"]
    assert rows[0]["internal_type"] == "glide_list" and rows[0]["reference"] == "sys_user"
    dbo = http.get("/api/now/table/sys_db_object", params={"sysparm_query": "name=vm_vdr_contact"}).json()["result"][0]
    assert dbo["super_class"]


def test_attachment_list_hides_zz_yy_rows_and_carries_hash_and_link(servicenow, http):
    rows = http.get("/api/now/attachment", params={"sysparm_query": "table_name=core_company"}).json()["result"]
    assert rows and not any(r["table_name"].startswith("ZZ_YY") for r in rows)
    r = rows[0]
    assert r["download_link"].endswith(f"/api/now/attachment/{r['sys_id']}/file")


def test_attachment_file_streams_the_bytes_matching_hash(servicenow, http):
    row = next(r for r in servicenow.emu.tables["sys_attachment"].values() if r["hash"] and r["size_bytes"] != "0"
               and not r["file_name"].startswith("corrupt"))
    r = http.get(f"/api/now/attachment/{row['sys_id']}/file", headers={"Accept": "*/*"})
    assert hashlib.sha256(r.content).hexdigest() == row["hash"]
    assert json.loads(r.headers["X-Attachment-Metadata"])["file_name"] == row["file_name"]


def test_missing_attachment_is_404(http):
    assert http.get("/api/now/attachment/" + "0" * 32).status_code == 404


def test_oauth_password_grant_gives_a_refresh_token(servicenow):
    r = httpx.post(f"{servicenow.url}/oauth_token.do", data={
        "grant_type": "password", "client_id": fx.DEMO_SN_CLIENT_ID, "client_secret": fx.DEMO_SN_CLIENT_SECRET,
        "username": fx.DEMO_SN_USER, "password": fx.DEMO_SN_PASSWORD})
    body = r.json()
    assert body["token_type"] == "Bearer" and body["refresh_token"] and body["scope"] == "useraccount"
    ok = httpx.get(f"{servicenow.url}/api/now/table/core_company",
                   headers={"Authorization": f"Bearer {body['access_token']}"}, params={"sysparm_limit": 1})
    assert ok.status_code == 200


def test_oauth_refuses_a_json_body_and_bad_secrets(servicenow):
    assert httpx.post(f"{servicenow.url}/oauth_token.do", json={"grant_type": "client_credentials"}).status_code == 401
    r = httpx.post(f"{servicenow.url}/oauth_token.do", data={"grant_type": "client_credentials",
                                                             "client_id": fx.DEMO_SN_CLIENT_ID, "client_secret": "x"})
    assert r.status_code == 401 and r.json() == {"error": "server_error", "error_description": "access_denied"}


def test_429_rule_hit_carries_rate_limit_headers(servicenow, http):
    servicenow.emu.set_faults({"rate_429": 1.0, "retry_after": 7})
    r = http.get("/api/now/table/core_company")
    assert r.status_code == 429 and r.headers["Retry-After"] == "7" and "X-RateLimit-Reset" in r.headers


def test_truncated_200_ends_with_the_cancel_error(servicenow, http):
    servicenow.emu.set_faults({"rate_truncated": 1.0})
    r = http.get("/api/now/table/core_company")
    assert r.status_code == 200 and r.text.endswith('"status": "failure"}')
    with pytest.raises(ValueError):
        r.json()


def test_quota_budget_cancels_big_pages_only(servicenow, http):
    servicenow.emu.set_faults({"quota_budget": 99, "quota_mode": "500"})
    assert http.get("/api/now/table/core_company",
                    params={"sysparm_limit": 50, "sysparm_fields": "sys_id,name"}).status_code == 500
    assert http.get("/api/now/table/core_company",
                    params={"sysparm_limit": 40, "sysparm_fields": "sys_id,name"}).status_code == 200


def test_a_second_concurrent_request_on_one_session_gets_202(servicenow):
    servicenow.emu.set_faults({"latency_ms": 300})
    import threading

    with httpx.Client(base_url=servicenow.url, auth=(fx.DEMO_SN_USER, fx.DEMO_SN_PASSWORD)) as c:
        c.get("/api/now/table/cmn_department")  # receive JSESSIONID; httpx keeps it
        results = []
        threads = [threading.Thread(target=lambda: results.append(c.get("/api/now/table/cmn_department").status_code))
                   for _ in range(3)]
        [t.start() for t in threads]
        [t.join() for t in threads]
    assert 202 in results


def test_admin_update_bumps_timestamp_and_mod_count_and_delete_is_audited(servicenow):
    emu = servicenow.emu
    vid = next(iter(emu.tables["core_company"]))
    before = dict(emu.tables["core_company"][vid])
    r = httpx.patch(f"{servicenow.url}/_emulator/records/core_company/{vid}", json={"name": "Renamed Ltd"})
    after = r.json()
    assert after["name"] == "Renamed Ltd" and after["sys_updated_on"] > before["sys_updated_on"]
    assert int(after["sys_mod_count"]) == int(before["sys_mod_count"]) + 1
    httpx.delete(f"{servicenow.url}/_emulator/records/core_company/{vid}")
    assert any(r["documentkey"] == vid for r in emu.tables["sys_audit_delete"].values())


def test_admin_can_add_an_attachment(servicenow):
    r = httpx.post(f"{servicenow.url}/_emulator/attachments", json={
        "table_name": "core_company", "table_sys_id": "x" * 32, "file_name": "new.pdf",
        "content_b64": base64.b64encode(b"%PDF new").decode()})
    assert r.status_code == 201 and r.json()["hash"] == hashlib.sha256(b"%PDF new").hexdigest()
