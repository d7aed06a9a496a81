"""Webhook subscription models (coverbase-api.md §2.11). The secret is write-only: Coverbase never
returns it, and ``repr`` of a request never shows it."""

from __future__ import annotations

from pydantic import Field

from connector.coverbase.models import Payload, Resource

STATUS_CHANGED = "Assessment.StatusChanged"


class WebhookCreate(Payload):
    url: str
    events: list[str]
    secret: str = Field(repr=False)
    description: str | None = None
    enabled: bool | None = None


class WebhookUpdate(Payload):
    url: str | None = None
    events: list[str] | None = None
    secret: str | None = Field(None, repr=False)
    description: str | None = None
    enabled: bool | None = None


class Webhook(Resource):
    id: str
    url: str
    events: list[str] = Field(default_factory=list)
    description: str | None = None
    enabled: bool = True
    created_at: int | None = None
    last_delivery_status: str | None = None
    delivery_success_rate: float | None = None
    delivery_count: int = 0
