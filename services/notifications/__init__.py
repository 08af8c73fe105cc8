"""The message service: every notification logged with its delivery status, retried, resendable.

A message (an event's template filled in, the object it is about, recipient specs resolved to
people when it is made) has one delivery per recipient and channel: the in-app inbox, e-mail
over SMTP, webhooks. Deliveries go ``pending -> sending -> sent``, or ``failed`` (tried again
after a growing wait) until ``dead``; a resend is a new delivery linked to the original.
Workers claim due deliveries without ever taking the same one twice, and take back those a
dead worker left ``sending`` (docs/adr/0017-message-service.md).

- :mod:`~services.notifications.outbox`: :func:`notify`, called inside the transaction of the
  change it reports; :mod:`~services.notifications.recipients`,
  :mod:`~services.notifications.templates`;
- :mod:`~services.notifications.worker` (:func:`work`) over
  :mod:`~services.notifications.claims` and :mod:`~services.notifications.channels`;
- :mod:`~services.notifications.manage`: the send log, pending, resend, test;
  :mod:`~services.notifications.inbox`, :mod:`~services.notifications.contacts`.
"""

from services.notifications.outbox import Notice, notify, told

__all__ = ["Notice", "notify", "told"]
