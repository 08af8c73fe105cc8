"""The channels a worker sends through: e-mail over SMTP and webhooks (JSON over HTTP).

Each channel is opened once per batch from its Airflow Connection and sends one
:class:`Outgoing` at a time; a failure is :class:`SendFailed`, ``permanent`` when trying again
cannot help (an address or request the receiver refuses), else it is tried again later. The
in-app inbox needs no sending: its deliveries are in place when the message is made
(:mod:`services.notifications.inbox`).
"""

from services.notifications.channels.base import Channel, Outgoing, SendFailed

__all__ = ["Channel", "Outgoing", "SendFailed"]
