"""The README is true on a fresh clone: its shell snippets parse, use the commands a fresh clone has
(`.venv/bin/…`, `DAGSTER_HOME`), name files that exist, link only inside the repository, and the ones
that can run offline do (the file-export migration against the Coverbase emulator, the tools' help)."""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.definitions import defs
from tests.conftest import start_coverbase
from tests.test_dagster_dev import REPO

TEXT = (REPO / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"^```(\w*)\n(.*?)^```", TEXT, re.S | re.M)
SHELL = [body for lang, body in BLOCKS if lang in ("bash", "sh", "shell")]
PATH_PREFIXES = (".ci/", ".dagster/", "assets/", "bench/", "connector/", "docs/", "examples/", "scripts/", "tests/")
GENERATED = ("bench/out/",)  # written by the benchmark, not in a fresh clone


def _commands(block: str) -> list[str]:
    """Logical lines of a snippet (continuations joined, heredoc bodies and comments left out)."""
    out, heredoc = [], None
    for line in block.replace("\\\n", " ").splitlines():
        if heredoc:
            heredoc = None if line.strip() == heredoc else heredoc
            continue
        m = re.search(r"<<-?'?(\w+)'?", line)
        if m:
            heredoc = m.group(1)
        line = line.split(" #", 1)[0].strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


def test_there_are_shell_snippets_and_each_one_parses():
    assert len(SHELL) >= 8
    for body in SHELL:
        done = subprocess.run(["bash", "-n"], input=body, capture_output=True, text=True)
        assert done.returncode == 0, f"{body}\n{done.stderr}"


def test_the_first_lines_are_the_two_pinned_commands():
    first = SHELL[0].splitlines()
    assert first[0].startswith("bash scripts/demo.sh    #") and first[1].startswith("bash scripts/test.sh    #")


def test_every_dagster_and_python_command_is_the_one_a_fresh_clone_has():
    for body in SHELL:
        for command in _commands(body):
            words = shlex.split(command)
            for i, word in enumerate(words):
                assert word not in ("dagster", "python", "python3", "pip"), f"bare {word!r} in: {command}"
                if word == ".venv/bin/dagster":
                    assert any(w.startswith("DAGSTER_HOME=") for w in words[:i]), f"no DAGSTER_HOME in: {command}"


def _slug(heading: str) -> str:
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"\s", "-", re.sub(r"[^\w\s-]", "", text))


def test_every_link_stays_in_the_repository_and_resolves():
    anchors = {_slug(h) for h in re.findall(r"^#+ (.+)$", TEXT, re.M)} | set(re.findall(r'<a id="([^"]+)"', TEXT))
    links = re.findall(r"\]\(([^)\s]+)\)", TEXT)
    assert links
    for link in links:
        if link.startswith(("https://", "http://")):
            assert "shared/" not in link
            continue
        path, _, anchor = link.partition("#")
        if not path:
            assert anchor in anchors, f"no heading for #{anchor}"
            continue
        target = (REPO / path).resolve()
        assert target.is_relative_to(REPO) and target.exists(), f"{link} is not a file of the repository"
    assert "shared/" not in TEXT


def test_every_file_the_readme_names_exists():
    spans = re.findall(r"`([^`\n]+)`", TEXT) + [w for body in SHELL for c in _commands(body) for w in shlex.split(c)]
    named = {tok.rstrip(".,;:)") for span in spans for tok in span.split() if tok.startswith(PATH_PREFIXES)}
    assert "examples/migrate-files.yaml" in named and "scripts/ui_screenshots.py" in named
    missing = [p for p in sorted(named) if not p.startswith(GENERATED) and not glob.glob(str(REPO / p))]
    assert missing == []


def _heredoc(name: str) -> dict:
    m = re.search(rf"cat > {re.escape(name)} <<'EOF'\n(.*?)\nEOF\n", TEXT, re.S)
    assert m, f"no heredoc writing {name}"
    return yaml.safe_load(m.group(1))


def test_the_run_configs_the_readme_gives_are_valid_for_the_migrate_job():
    job = defs.resolve_job_def("migrate")
    dg.validate_run_config(job, _heredoc("migrate.yaml"))
    files = yaml.safe_load((REPO / "examples" / "migrate-files.yaml").read_text())
    dg.validate_run_config(job, files)
    assert files["ops"]["migrate_op"]["config"]["dry_run"] is True


@pytest.mark.parametrize("module", ["connector doctor", "connector.demo", "connector.emulators.coverbase",
                                    "connector.emulators.servicenow"])
def test_the_command_line_tools_it_names_answer(module):
    done = subprocess.run([str(REPO / ".venv/bin/python"), "-m", *module.split(), "--help"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "usage:" in done.stdout


@pytest.mark.timeout(300)
def test_the_file_export_migration_runs_as_written():
    line = next(c for body in SHELL for c in _commands(body) if "examples/migrate-files.yaml" in c)
    cb = start_coverbase()
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERBASE_", "SERVICENOW_", "CONNECTOR_"))}
        env.update(COVERBASE_API_URL=cb.url, COVERBASE_API_KEY=cb.api_key, PYTHONPATH="",
                   CONNECTOR_STATE_DB=str(REPO / ".connector" / "readme-test.db"))
        done = subprocess.run(["bash", "-c", line], cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
        writes = [e for e in cb.emu.log if e["method"] != "GET"]
    finally:
        cb.server.stop()
        for suffix in ("", "-wal", "-shm", ".writer.lock"):
            Path(f"{REPO / '.connector' / 'readme-test.db'}{suffix}").unlink(missing_ok=True)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "RUN_SUCCESS" in done.stdout + done.stderr and writes == []  # a dry run writes nothing
    assert sys.executable  # the line ran with the repository's .venv/bin/dagster, not this interpreter
