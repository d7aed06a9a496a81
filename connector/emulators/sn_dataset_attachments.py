"""Dataset stage: attachments on vendors, engagements and assessments, the SBOMs among them
(detected by content, not name), and the dirty files (executables, Outlook messages, an empty
file, one byte over 100 MiB served as a stream, path-traversal names, a wrong hash, a hidden
``ZZ_YY`` row, a JSON file that is not a BOM, a BOM that breaks its schema).
"""

from __future__ import annotations

import hashlib
import random

from connector.emulators import sn_sboms
from connector.emulators.sn_dataset_generator import Generator
from connector.emulators.sn_dataset_model import Blob
from connector.emulators.sn_dataset_words import DOC_KINDS, PREFIX, SUFFIX

BIG_FILE_SIZE = 100 * 1024 * 1024 + 1  # one byte over Coverbase's 100 MiB limit


def _attach(g: Generator, n: int, table: str, parent: str, file_name: str, content_type: str, blob: Blob,
            size: int, *, with_hash: bool = True, hidden: bool = False, bad_hash: bool = False) -> str:
    sid = g.sid("sys_attachment", n)
    digest = ""
    if with_hash:
        h = hashlib.sha256()
        for c in blob.chunks():
            h.update(c)
        digest = h.hexdigest() if not bad_hash else hashlib.sha256(b"something else").hexdigest()
    row = {**g.sys("sys_attachment", sid), "file_name": file_name, "content_type": content_type,
           "size_bytes": str(size), "size_compressed": str(size), "compressed": "false",
           "table_name": ("ZZ_YY" + table) if hidden else table, "table_sys_id": parent, "hash": digest,
           "state": "available", "chunk_size_bytes": "700000", "average_image_color": "", "image_width": "",
           "image_height": "", "sys_tags": ""}
    g.ds.rows("sys_attachment")[sid] = row
    g.ds.blobs[sid] = blob
    return sid


def attachments(g: Generator) -> None:
    s, rng = g.sizes, g.rng
    companies = g.ds.rows("core_company")
    clean_vendors = g.vendors[2:]
    n = 0

    def doc_blob(kind: tuple, size: int) -> Blob:
        header = kind[3]
        body = random.Random(f"{g.seed}:blob:{n}").randbytes(max(0, size - len(header)))
        if kind[1] in ("md", "csv", "txt"):
            body = (b"line of text for the evidence file\n" * (size // 35 + 1))[: max(0, size - len(header))]
        return Blob(content=header + body)

    for i in range(s.attachments):
        r = rng.random()
        if r < 0.6:
            table, parent = "core_company", rng.choice(clean_vendors)
            vname = companies[parent]["name"].split()[0]
        elif r < 0.85:
            table, parent = "sn_vdr_risk_asmt_vendor_engagement", rng.choice(g.engagement_ids[5:])
            vname = "engagement"
        else:
            table, parent = "sn_vdr_risk_asmt_assessment", rng.choice(g.assessment_ids[6:])
            vname = "assessment"
        kind = rng.choice(DOC_KINDS)
        size = int(min(48_000, max(300, rng.lognormvariate(8.6, 0.9))))
        blob = doc_blob(kind, size)
        _attach(g, n, table, parent, f"{kind[0].format(v=vname)}.{kind[1]}", kind[2], blob, len(blob.content),
                with_hash=rng.random() > 0.1)
        n += 1

    def add(table: str, parent: str, name: str, ctype: str, blob: Blob, size: int, **kw) -> str:
        nonlocal n
        sid = _attach(g, n, table, parent, name, ctype, blob, size, **kw)
        n += 1
        return sid

    v = clean_vendors
    d = g.dirty
    cc = "core_company"
    sid = add(cc, v[0], "vendor-installer.exe", "application/x-msdownload", Blob(b"MZ" + b"\0" * 500), 502)
    d("D33", "document", "sys_attachment", sid, "executable attachment (.exe)", "invalid", "not allowed")
    sid = add(cc, v[1], "kickoff meeting.msg", "application/vnd.ms-outlook", Blob(b"\xd0\xcf\x11\xe0" * 64), 256)
    d("D34", "document", "sys_attachment", sid, "Outlook message (.msg)", "invalid", "not allowed")
    sid = add(cc, v[2], "empty-evidence.pdf", "application/pdf", Blob(b""), 0)
    d("D35", "document", "sys_attachment", sid, "zero-byte file", "invalid", "empty")
    sid = add(cc, v[3], "full-pentest-recording.zip", "application/zip",
              Blob(stream_size=BIG_FILE_SIZE, stream_seed=g.seed), BIG_FILE_SIZE, with_hash=False)
    d("D36", "document", "sys_attachment", sid, "file one byte over 100 MiB (served as a stream)", "invalid",
      "exceeds")
    sid = add(cc, v[4], "../../etc/passwd.pdf", "application/pdf", Blob(b"%PDF-1.4 x"), 10)
    d("D37", "document", "sys_attachment", sid, "path-traversal file name '../../etc/passwd.pdf' (repaired)", "ok",
      "sent as 'passwd.pdf'")
    sid = add(cc, v[5], "..\\..\\windows\\win.ini.txt", "text/plain", Blob(b"[fonts]\n"), 8)
    d("D38", "document", "sys_attachment", sid, "path-traversal file name with backslashes (repaired)", "ok",
      "sent as 'win.ini.txt'")
    sid = add(cc, v[6], "corrupted-report.pdf", "application/pdf", Blob(b"%PDF-1.7 truncated"), 18, bad_hash=True)
    d("D39", "document", "sys_attachment", sid, "content does not match ServiceNow's sha256 hash", "invalid",
      "does not match")
    sid = add(cc, g.vendors[0], "orphan evidence.pdf", "application/pdf", Blob(b"%PDF-1.7 orphan"), 15)
    d("D40", "document", "sys_attachment", sid, "attachment on the empty-name vendor", "deferred", "vendor")
    sid = add(cc, v[7], "vendor-config.json", "application/json", Blob(b'{"feature_flags": {"x": true}}'), 30)
    d("D41", "document", "sys_attachment", sid, "JSON file that is not a BOM (.json not allowed as a document)",
      "invalid", "not allowed")
    sid = add(cc, v[8], "signature.png", "image/png", Blob(b"\x89PNG\r\n\x1a\nhidden"), 14, hidden=True)
    d("D42", "document", "sys_attachment", sid, "hidden ZZ_YY attachment (image field)", "absent", "")

    # SBOMs: detected by content. Mostly on engagements (the service they describe).
    for k in range(s.sboms):
        if k % 10 < 7:
            table, parent = ("sn_vdr_risk_asmt_vendor_engagement",
                             g.engagement_ids[5 + (k * 7) % (len(g.engagement_ids) - 5)])
        else:
            table, parent = "core_company", v[(k * 11) % len(v)]
        rngk = random.Random(f"{g.seed}:sbom:{k}")
        supplier = companies[g.ds.rows("sn_vdr_risk_asmt_vendor_engagement")[parent]["vendor"]
                             if table != "core_company" else parent]["name"] or "Vendor"
        product = f"{PREFIX[k % len(PREFIX)].lower()}-{SUFFIX[k % len(SUFFIX)].lower()}-platform"
        if k == 0:
            content = sn_sboms.cyclonedx(rngk, product, supplier)
            sid = add(table, parent, "software-inventory.txt", "text/plain", Blob(content), len(content))
            d("D43", "bom", "sys_attachment", sid, "CycloneDX SBOM named .txt (detected by content)", "ok", "")
        elif k == 1:
            content = sn_sboms.malformed_cyclonedx()
            sid = add(table, parent, "broken-sbom.cdx.json", "application/vnd.cyclonedx+json",
                      Blob(content), len(content))
            d("D44", "bom", "sys_attachment", sid, "CycloneDX BOM that breaks its schema (uploaded with warnings)",
              "ok", "schema warning(s), uploaded anyway")
        elif k % 2 == 0:
            content = sn_sboms.cyclonedx(rngk, product, supplier)
            add(table, parent, f"{product}.cdx.json", "application/vnd.cyclonedx+json", Blob(content), len(content))
        else:
            content = sn_sboms.spdx(rngk, product, supplier)
            add(table, parent, f"{product}.spdx.json", "application/spdx+json", Blob(content), len(content))
