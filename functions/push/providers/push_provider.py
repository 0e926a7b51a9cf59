"""The port every push provider client implements."""

from __future__ import annotations

from typing import Protocol

from imfaas.functions.push.providers.push_payload import PushNotification, PushOutcome


class PushProvider(Protocol):
    """Sends notifications through one provider (FCM, APNs or HMS).

    ``send`` never raises for what the network or the provider does: a time-out, a refused
    or dropped connection, or a token endpoint that is down is a ``retry`` outcome; an
    expired access token is refreshed and the send tried once more. Sends may run
    concurrently; nothing is retried beyond that one auth refresh, and no ordering between
    concurrent sends is kept (the caller orders per device if it must).
    """

    async def send(self, notification: PushNotification) -> PushOutcome:
        """Send one notification and say what happened to it."""
        ...

    async def close(self) -> None:
        """Close the connections; the client is not used afterwards."""
        ...
