"""Peak RSS growth of moving one 100 MiB document, measured in a fresh process.

    python bench/rss.py client <coverbase_url> <api_key> <vendor_id>
    python bench/rss.py sync <coverbase_url> <api_key> <vendor_id> <servicenow_url> <attachment_sys_id>

``client``: a generated 100 MiB stream through CoverbaseClient.upload_document (issue 2).
``sync``: the sync's own data path: ServiceNow download → private spool → streamed upload.
Prints one JSON line: {"rss_growth_mib": ..., "seconds": ...}.
"""

import json
import sys
import threading
import time

from connector.coverbase.client import CoverbaseClient
from connector.coverbase.models import DocumentFields
from connector.emulators import fixtures as fx

MIB = 1024 * 1024
SIZE = 100 * MIB


def rss_mib() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class PeakSampler:
    """Samples the current RSS every 2 ms while the transfer runs (the lifetime peak would hide
    the transfer behind what importing the libraries cost)."""

    def __init__(self) -> None:
        self.base = rss_mib()
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib())
            self._stop.wait(0.002)

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib())


def main() -> None:
    mode, cb_url, key, vendor_id = sys.argv[1:5]
    cb = CoverbaseClient(cb_url, key)
    cb.upload_document(DocumentFields(vendor_id=vendor_id), filename="warmup.pdf", source=lambda: iter([b"%PDF"]))
    if mode == "sync":
        from connector.canonical import CanonicalAttachment
        from connector.config import ConnectorConfig
        from connector.files.content import private_spool
        from connector.servicenow.client import ServiceNowClient
        from connector.sources.servicenow import ServiceNowSource

        sn_url, att = sys.argv[5], sys.argv[6]
        sn = ServiceNowClient(sn_url, username=fx.DEMO_SN_USER, password=fx.DEMO_SN_PASSWORD)
        meta = sn.get_json(f"/api/now/attachment/{att}")["result"]
        source = ServiceNowSource(sn, ConnectorConfig())
        a = CanonicalAttachment(source="servicenow", key=att, file_name=meta["file_name"], size=int(meta["size_bytes"]),
                                sha256=meta["hash"], file_ref=att)
        t0 = time.monotonic()
        with PeakSampler() as sampler, private_spool(ConnectorConfig().documents.spool_in_memory_bytes) as tmp:
            got = source.fetch(a, tmp)
            cb.upload_document(DocumentFields(vendor_id=vendor_id), filename=a.file_name, source=tmp, size=got.size,
                               idempotency_key="bench-rss-sync")
    else:
        block = b"\0" * MIB
        t0 = time.monotonic()
        with PeakSampler() as sampler:
            cb.upload_document(DocumentFields(vendor_id=vendor_id), filename="big.zip",
                               source=lambda: (block for _ in range(SIZE // MIB)), size=SIZE)
    print(json.dumps({"rss_growth_mib": round(sampler.peak - sampler.base, 1), "rss_base_mib": round(sampler.base, 1),
                      "seconds": round(time.monotonic() - t0, 2)}))


if __name__ == "__main__":
    main()
