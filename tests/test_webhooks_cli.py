"""``python -m connector webhooks register --url https://…`` against the Coverbase emulator, as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SECRET = "whsec-cli-test-0123456789abcdef"
PUBLIC = "https://connector.example.com/webhooks/coverbase"


def cli(coverbase, *args: str, secret: str | None = SECRET) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COVERBASE_")}
    env.update(COVERBASE_API_URL=coverbase.url, COVERBASE_API_KEY=coverbase.api_key)
    if secret is not None:
        env["COVERBASE_WEBHOOK_SECRET"] = secret
    return subprocess.run([sys.executable, "-m", "connector", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.timeout(120)
def test_register_creates_the_subscription_and_a_second_register_updates_it(coverbase):
    first = cli(coverbase, "webhooks", "register", "--url", PUBLIC)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("created cbwh_") and "Assessment.StatusChanged" in first.stdout
    again = cli(coverbase, "webhooks", "register", "--url", PUBLIC)
    assert again.returncode == 0 and again.stdout.startswith("updated cbwh_")
    hooks = list(coverbase.emu.webhooks.subscriptions.values())
    assert len(hooks) == 1 and hooks[0]["secret"] == SECRET and hooks[0]["events"] == ["Assessment.StatusChanged"]
    assert SECRET not in first.stdout + first.stderr + again.stdout + again.stderr
    listed = cli(coverbase, "webhooks", "list")
    assert listed.returncode == 0 and PUBLIC in listed.stdout
    gone = cli(coverbase, "webhooks", "delete", "--id", hooks[0]["id"])
    assert gone.returncode == 0 and cli(coverbase, "webhooks", "list").stdout.strip() == "no webhook subscriptions"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("url,why", [
    ("http://connector.example.com/hook", "https://"),
    ("https://connector.example.com:8443/hook", "standard HTTPS port"),
    ("https://127.0.0.1/hook", "public address"),
    ("https://localhost/hook", "loopback"),
])
def test_register_refuses_what_coverbase_cannot_deliver_to_with_a_clear_message(coverbase, url, why):
    done = cli(coverbase, "webhooks", "register", "--url", url)
    assert done.returncode == 2 and why in done.stderr and "public HTTPS URL" in done.stderr
    assert "Traceback" not in done.stderr and coverbase.emu.webhooks.subscriptions == {}


@pytest.mark.timeout(120)
def test_register_needs_a_webhook_secret_of_16_characters(coverbase):
    done = cli(coverbase, "webhooks", "register", "--url", PUBLIC, secret="short")
    assert done.returncode == 2 and "COVERBASE_WEBHOOK_SECRET" in done.stderr and "short" not in done.stderr
    assert coverbase.emu.webhooks.subscriptions == {}


def test_the_dispatcher_lists_its_subcommands():
    done = subprocess.run([sys.executable, "-m", "connector", "--help"], cwd=REPO, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and "webhooks" in done.stdout
