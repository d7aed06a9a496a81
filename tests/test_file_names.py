"""File names are repaired, not refused: a document's name in Coverbase is a label, not a path."""

import random
import unicodedata

import pytest

from connector.files.names import MAX_NAME_BYTES, extension, repair_file_name

CASES = [
    ("../../etc/passwd.pdf", "passwd.pdf"),
    ("Q1/Q2 access review.pdf", "Q2 access review.pdf"),
    ("..Final pentest report.pdf", "Final pentest report.pdf"),
    ("..\\..\\windows\\win.ini.txt", "win.ini.txt"),
    ("C:\\Users\\dana\\SOC2 Type II.pdf", "SOC2 Type II.pdf"),
    ("  . hidden report.docx  ", "hidden report.docx"),
    ("quarterly\treview\n  notes.md", "quarterly review notes.md"),
    ("inv\x00oice\x1f.pdf", "invoice.pdf"),
    ("invoice\u202efdp.exe", "invoicefdp.exe"),  # a right-to-left override cannot disguise the extension
    ("Report.PDF ", "Report.PDF"),
    ("report.pdf", "report.pdf"),
]


@pytest.mark.parametrize("name,fixed", CASES, ids=[c[0] for c in CASES])
def test_a_name_is_cut_to_its_last_component_and_cleaned(name, fixed):
    got, repairs = repair_file_name(name, "abc123")
    assert got == fixed
    assert bool(repairs) == (name != fixed)
    if repairs:
        assert repr(name) in repairs[0] and repr(fixed) in repairs[0]  # the original is in the message


@pytest.mark.parametrize("name", ["", "   ", "...", "/", "../..", ".pdf", "\x00\x01"])
def test_a_name_with_nothing_left_becomes_attachment_and_its_sys_id(name):
    got, repairs = repair_file_name(name, "0123abcd")
    assert got.startswith("attachment-0123abcd") and repairs
    assert got == ("attachment-0123abcd.pdf" if name == ".pdf" else "attachment-0123abcd")


def test_a_name_without_extension_takes_one_from_its_content_type():
    assert repair_file_name("SOC2 report", "k", "application/pdf; charset=binary")[0] == "SOC2 report.pdf"
    assert repair_file_name("", "k", "text/csv")[0] == "attachment-k.csv"
    assert repair_file_name("notes", "k", "application/x-unknown") == ("notes", [])


def test_a_long_name_is_cut_to_255_utf8_bytes_keeping_the_extension():
    name = "Überprüfung der Lieferkette " * 20 + ".docx"
    got, repairs = repair_file_name(name, "k")
    assert len(got.encode("utf-8")) <= MAX_NAME_BYTES and got.endswith(".docx") and repairs
    assert got.startswith("Überprüfung der Lieferkette")
    cjk = "株式会社" * 40 + ".pdf"  # 3 bytes a character: never cut inside one
    got, _ = repair_file_name(cjk, "k")
    assert len(got.encode("utf-8")) <= MAX_NAME_BYTES and got.endswith(".pdf") and set(got[:-4]) <= set("株式会社")


def test_extensions_are_compared_trimmed_and_lower_cased():
    assert extension("Report.PDF  ") == "pdf"
    assert extension("a/b.c/archive.tar.GZ") == "gz"
    assert extension("draft.") == "" and extension("README") == "" and extension("v1. final") == ""


@pytest.mark.parametrize("seed", range(5))
def test_any_name_comes_out_safe(seed):
    """Seeded random names: whatever comes in, what is sent is a safe label."""
    rng = random.Random(seed)
    alphabet = "ab c.\\/\t\n\x00\x07\u202e\u200fé株 .."
    for _ in range(300):
        name = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        got, repairs = repair_file_name(name, "sys1", rng.choice([None, "application/pdf", "text/plain"]))
        assert got and len(got.encode("utf-8")) <= MAX_NAME_BYTES
        assert "/" not in got and "\\" not in got
        assert not any(unicodedata.category(ch) == "Cc" for ch in got)
        assert not got.startswith((".", " ")) and not got.endswith(" ") and "  " not in got
        assert bool(repairs) == (got != name)
        assert repair_file_name(got, "sys1")[0] == got  # a repaired name needs no second repair
