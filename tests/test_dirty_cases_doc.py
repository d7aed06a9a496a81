from pathlib import Path

from connector.emulators.dirty_cases_doc import render


def test_the_dirty_case_table_in_docs_is_current():
    doc = Path(__file__).resolve().parents[1] / "docs" / "dirty-cases.md"
    assert doc.read_text() == render(), ("regenerate: python -m connector.emulators.dirty_cases_doc "
                                         "> docs/dirty-cases.md")


def test_both_datasets_carry_every_dirty_case():
    from connector.emulators import sn_dataset

    small = [c.what for c in sn_dataset.build("small").dirty]
    reference = [c.what for c in sn_dataset.build("reference").dirty]
    assert small == reference and len(small) >= 40
