"""Manage the Coverbase webhook subscription that nudges the write-back.

    python -m connector webhooks register --url https://connector.example.com/webhooks/coverbase
    python -m connector webhooks list
    python -m connector webhooks delete --id cbwh_...

Coverbase delivers only to a public HTTPS URL: https, the standard port, no credentials in it, not
a private, loopback or link-local address. Put the receiver (python -m connector.webhooks) behind
an HTTPS reverse proxy or ingress that forwards that URL to it.

Environment: COVERBASE_API_URL, COVERBASE_API_KEY, and COVERBASE_WEBHOOK_SECRET (16+ characters,
the same secret the receiver verifies with). ``register`` is safe to repeat: a subscription with the
same URL is updated (events, secret, enabled), never duplicated.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from urllib.parse import urlsplit

from connector.coverbase.client import DEFAULT_API_URL, CoverbaseClient
from connector.coverbase.errors import CoverbaseAmbiguousWrite, CoverbaseError
from connector.coverbase.webhooks import STATUS_CHANGED, Webhook, WebhookCreate, WebhookUpdate
from connector.errors import ConfigError
from connector.webhooks.signature import MIN_SECRET_LENGTH

DESCRIPTION = "ServiceNow connector: assessment outcomes write-back"


def public_url_problem(url: str) -> str | None:
    """Why Coverbase would refuse this receiver URL (its documented rules), or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return "it must be an https:// URL"
    if parts.username or parts.password:
        return "it must not carry credentials"
    if parts.port not in (None, 443):
        return "it must use the standard HTTPS port (443)"
    if host == "localhost" or host.endswith(".localhost"):
        return "it must be reachable from the internet, not a loopback name"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return None
    if ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_unspecified:
        return "it must be a public address, not a private, loopback or link-local one"
    return None


HELP = "manage the Coverbase webhook subscription of the write-back"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``webhooks`` to ``python -m connector``."""
    parser = subparsers.add_parser("webhooks", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    configure(parser)
    parser.set_defaults(func=run)


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="action", required=True)
    reg = sub.add_parser("register", help="create (or update) the subscription for a public HTTPS URL")
    reg.add_argument("--url", required=True, help="public HTTPS URL of the receiver, as Coverbase will call it")
    reg.add_argument("--event", action="append", dest="events", metavar="EVENT_TYPE",
                     help=f"event type to subscribe to (repeatable; default {STATUS_CHANGED})")
    reg.add_argument("--description", default=DESCRIPTION)
    sub.add_parser("list", help="list the org's webhook subscriptions")
    rm = sub.add_parser("delete", help="delete (archive) a subscription")
    rm.add_argument("--id", required=True, help="the subscription id (cbwh_...)")


def _client() -> CoverbaseClient:
    return CoverbaseClient(os.environ.get("COVERBASE_API_URL") or DEFAULT_API_URL,
                           os.environ.get("COVERBASE_API_KEY", ""))


def _show(w: Webhook) -> str:
    state = "enabled" if w.enabled else "disabled"
    last = f", last delivery {w.last_delivery_status}" if w.last_delivery_status else ""
    return f"{w.id}  {w.url}  [{', '.join(w.events)}] {state}, {w.delivery_count} deliveries{last}"


def subscribe(url: str, events: list[str], description: str) -> tuple[str, Webhook]:
    why = public_url_problem(url)
    if why:
        raise ConfigError(f"--url {url!r} cannot be registered: {why}. Coverbase delivers webhooks only to a public "
                          "HTTPS URL; run the receiver (python -m connector.webhooks) behind an HTTPS reverse proxy "
                          "and register the proxy's URL.")
    secret = os.environ.get("COVERBASE_WEBHOOK_SECRET", "")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"COVERBASE_WEBHOOK_SECRET must be set (at least {MIN_SECRET_LENGTH} characters, the same "
                          "value the receiver uses); e.g. python -c 'import secrets; print(secrets.token_hex(32))'")
    with _client() as cb:
        try:
            same = [w for w in cb.list_webhooks() if w.url == url]
            if same:
                w = cb.update_webhook(same[0].id, WebhookUpdate(events=events, secret=secret, enabled=True,
                                                                description=description))
                return "updated", w
            try:
                return "created", cb.create_webhook(WebhookCreate(url=url, events=events, secret=secret,
                                                                  description=description))
            except CoverbaseAmbiguousWrite:
                found = [w for w in cb.list_webhooks() if w.url == url]  # not idempotent: read back first
                if found:
                    return "created", found[0]
                raise
        except CoverbaseError as exc:
            hint = {"invalid_url": " (Coverbase needs a public HTTPS URL on port 443)",
                    "weak_secret": " (COVERBASE_WEBHOOK_SECRET is too short)"}.get(exc.code or "", "")
            raise ConfigError(f"Coverbase refused the subscription: {exc}{hint}") from None


def run(args: argparse.Namespace) -> int:
    if args.action == "register":
        verb, w = subscribe(args.url, args.events or [STATUS_CHANGED], args.description)
        print(f"{verb} {_show(w)}")
        print("Deliveries are verified with COVERBASE_WEBHOOK_SECRET: run the receiver with the same value, e.g. "
              "python -m connector.webhooks --host 0.0.0.0 --port 8080")
        return 0
    with _client() as cb:
        try:
            if args.action == "list":
                hooks = cb.list_webhooks()
                for w in hooks:
                    print(_show(w))
                if not hooks:
                    print("no webhook subscriptions")
                return 0
            cb.delete_webhook(args.id)
            print(f"deleted {args.id}")
            return 0
        except CoverbaseError as exc:
            raise ConfigError(f"Coverbase refused: {exc}") from None
