"""ServiceNow's own client, PySNC, reads the emulator: an independent check of its fidelity.

PySNC only accepts https:// instance URLs, so the emulator serves TLS here with a throwaway CA.
"""

import hashlib
from collections import Counter

import pytest
import trustme

from connector.emulators import fixtures as fx
from tests.conftest import start_servicenow

pysnc = pytest.importorskip("pysnc")


@pytest.fixture(scope="module")
def tls_reference(tmp_path_factory):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    d = tmp_path_factory.mktemp("tls")
    certfile, keyfile, ca_path = d / "cert.pem", d / "key.pem", d / "ca.pem"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    ca.cert_pem.write_to_path(str(ca_path))
    running = start_servicenow("reference", certfile=str(certfile), keyfile=str(keyfile))
    yield running, str(ca_path)
    running.server.stop()


@pytest.fixture(autouse=True)
def _trust_only_the_given_ca(monkeypatch):
    # requests lets these variables override session.verify; CI machines set them.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_pysnc_reads_every_reference_vendor_once(tls_reference):
    running, ca = tls_reference
    client = pysnc.ServiceNowClient(running.url, (fx.DEMO_SN_USER, fx.DEMO_SN_PASSWORD), verify=ca)
    gr = client.GlideRecord("core_company", batch_size=250)
    gr.add_query("vendor", "true")
    gr.fields = "sys_id,name"
    gr.query()
    ids = [r.sys_id for r in gr]
    expected = {s for s, r in running.emu.tables["core_company"].items() if r["vendor"] == "true"}
    assert len(expected) >= 1000
    assert Counter(ids).most_common(1)[0][1] == 1 and set(ids) == expected


def test_pysnc_downloads_an_attachment_matching_its_hash(tls_reference):
    running, ca = tls_reference
    row = next(r for r in running.emu.tables["sys_attachment"].values()
               if r["hash"] and r["table_name"] == "core_company" and r["file_name"].endswith(".pdf")
               and not r["file_name"].startswith("corrupt"))
    client = pysnc.ServiceNowClient(running.url, (fx.DEMO_SN_USER, fx.DEMO_SN_PASSWORD), verify=ca)
    att = client.Attachment("core_company")
    assert att.get(row["sys_id"])
    content = att.read()
    assert hashlib.sha256(content).hexdigest() == row["hash"]
