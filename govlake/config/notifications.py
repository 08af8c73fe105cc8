"""Pydantic models of the ``notifications:`` section of ``conf/platform.yaml``.

Conf names the channels' connections, never their secrets: the SMTP server, its login and
password, and each webhook's address and signing key are Airflow Connections (or their
``AIRFLOW_CONN_<ID>`` variables). Retries back off exponentially from ``first_seconds`` up to
``max_seconds``; a delivery that has failed ``attempts`` times is dead.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from govlake.config.models import Identifier, Strict, known_schedule

WebhookFormat = Literal["generic", "dingtalk", "wecom", "feishu"]


class EmailChannel(Strict):
    """E-mail over SMTP; the server, login, password and sender are in the connection."""

    conn_id: Identifier = "govlake_smtp"


class WebhookChannel(Strict):
    """A JSON POST for every message with a recipient in ``organisation``'s subtree."""

    name: Identifier
    conn_id: Identifier
    organisation: Identifier
    format: WebhookFormat = "generic"


class Retry(Strict):
    """How often and how late a failed delivery is tried again."""

    attempts: int = Field(default=6, ge=1, le=50)
    first_seconds: int = Field(default=60, ge=0)
    max_seconds: int = Field(default=3600, ge=1)


class PlatformNotifications(Strict):
    """The message service: its channels, retries, the worker's lease and the send timeout."""

    email: EmailChannel = EmailChannel()
    webhooks: list[WebhookChannel] = Field(default_factory=list)
    retry: Retry = Retry()
    lease_seconds: int = Field(
        default=300, ge=1, description="A delivery left sending this long is taken back."
    )
    timeout_seconds: float = Field(default=10, gt=0, description="Per SMTP or HTTP exchange.")
    schedule: str = Field(default="*/5 * * * *", description="When the worker's DAG runs.")

    @field_validator("schedule")
    @classmethod
    def _known_schedule(cls, value: str) -> str:
        return known_schedule(value)

    @model_validator(mode="after")
    def _lease_outlasts_a_send(self) -> PlatformNotifications:
        if self.lease_seconds < 2 * self.timeout_seconds:
            raise ValueError(
                "lease_seconds must be at least twice timeout_seconds, or a live worker's "
                "deliveries could be taken back while it waits for a server"
            )
        return self
