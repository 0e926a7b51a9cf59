"""The push function: offline members learn of a message through FCM, APNs or HMS.

Three stages, each an event type of its own (a Kafka topic keyed by user in production):

- PushProxy, ``push.requested`` (from fanout: members with no online device): validated,
  rate limited per user and per app, then one ``push.task`` per user.
- PushServer, ``push.task``: the user's preferences (do-not-disturb, previews), the
  conversation's push mute and the user's device tokens make one ``push.job`` per device.
- PushWorker, ``push.job``: one notification to one device. Its idempotency key (message,
  device) is claimed in the push registry first, so a job replayed by the bus, or planned
  twice from a replayed task, is never sent again once it reached a final status. Transient
  failures come back as a later ``push.job`` (exponential backoff with jitter, at least the
  provider's Retry-After); after the budget, or on a permanent rejection, ``push.dead``.

A crash between the provider's acceptance and the record of it sends that one notification
again on the replay: the providers offer no idempotent send to close that window.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from cloudevents.http import CloudEvent

from imfaas.events import catalog
from imfaas.events.codec import new_event
from imfaas.events.schema_registry import conforms, data_problems
from imfaas.functions.push.config import PushConfig
from imfaas.functions.push.providers.push_payload import (
    OutcomeKind,
    PushNotification,
    PushOutcome,
)
from imfaas.functions.push.providers.push_provider import PushProvider
from imfaas.functions.push.push_metrics import PushMetrics
from imfaas.functions.push.push_rules import (
    NO_PUSH_PLATFORMS,
    in_do_not_disturb,
    job_key,
    preferences_frame,
    preview_body,
    read_preferences,
)
from imfaas.shared.adapter_factory import Ports
from imfaas.shared.conversation_id import parse_conversation
from imfaas.shared.conversation_members import ConversationMembers
from imfaas.shared.errors import BadRequest
from imfaas.shared.function_runtime import FrameContext, FrameRouter, FunctionBase
from imfaas.shared.group_snapshots import GroupSnapshots
from imfaas.shared.settings import Settings

SOURCE = "/imfaas/functions/push"
NEEDS = ("users", "devices", "pushes", "conversations", "groups", "cache", "bus")

log = logging.getLogger("imfaas.push")

EVENT_SCHEMAS = {
    catalog.PUSH_REQUESTED: "events/push.requested.json",
    catalog.PUSH_TASK: "events/push.task.json",
    catalog.PUSH_JOB: "events/push.job.json",
}
# A job not due yet waits at most this long in one handling, then goes back on the bus:
# handlers stay short, and a partition is never parked for a long Retry-After.
MAX_WAIT_S = 5.0


def _now_ms() -> int:
    return int(time.time() * 1000)


class PushFunction(FunctionBase):
    """Serves ``push.settings`` and ``push.mute``; consumes its three stages' events."""

    name = "push"

    def __init__(
        self,
        config: PushConfig,
        ports: Ports,
        providers: Mapping[str, PushProvider] | None = None,
    ) -> None:
        self._config = config
        self._ports = ports
        # One snapshot cache for both the membership checks and the notification titles.
        self._snapshots = GroupSnapshots(ports.groups, ports.cache)
        self._members = ConversationMembers(self._snapshots)
        self._given = providers
        self._providers: dict[str, PushProvider] = dict(providers or {})
        self.metrics = PushMetrics()
        self._router = FrameRouter(SOURCE)
        self._router.add("push.settings", self.settings)
        self._router.add("push.mute", self.mute)

    async def start(self) -> None:
        """Open a client for every provider whose credentials are set."""
        if self._given is not None:
            return
        from imfaas.functions.push.providers.apns_client import ApnsClient
        from imfaas.functions.push.providers.fcm_client import FcmClient
        from imfaas.functions.push.providers.hms_client import HmsClient

        verify = self._config.tls()
        if self._config.fcm is not None:
            self._providers["fcm"] = FcmClient(self._config.fcm, verify=verify)
        if self._config.apns is not None:
            self._providers["apns"] = ApnsClient(self._config.apns, verify=verify)
        if self._config.hms is not None:
            self._providers["hms"] = HmsClient(self._config.hms, verify=verify)

    async def stop(self) -> None:
        """Close the provider clients this function opened."""
        if self._given is None:
            for provider in self._providers.values():
                await provider.close()
            self._providers.clear()

    async def handle(self, event: CloudEvent) -> CloudEvent | None:
        """Serve a frame, or run one stage of the pipeline."""
        schema = EVENT_SCHEMAS.get(event["type"])
        if schema is None:
            return await self._router.dispatch(event)
        data = event.get_data()
        if not isinstance(data, dict) or not conforms(schema, data):
            problems = "; ".join(data_problems(schema, data)) if isinstance(data, dict) else ""
            raise BadRequest(f"malformed {event['type']}: {problems or 'not an object'}")
        if event["type"] == catalog.PUSH_REQUESTED:
            await self.admit(data)
        elif event["type"] == catalog.PUSH_TASK:
            await self.plan(data)
        else:
            await self.deliver(data)
        return None

    # PushProxy
    async def admit(self, data: dict[str, Any]) -> None:
        """One ``push.task`` per user within the user's and the app's rate limits."""
        message = data["message"]
        now_s = time.time()
        for user in dict.fromkeys(data["users"]):
            if not await self._within_limits(user, now_s):
                self.metrics.dropped("rate_limited")
                continue
            await self._publish(catalog.PUSH_TASK, {"user": user, "message": message}, user)

    async def _within_limits(self, user: str, now_s: float) -> bool:
        cache = self._ports.cache
        minute, second = int(now_s // 60), int(now_s)
        per_user = await cache.incr(f"push:rate:user:{user}:{minute}", 120)
        if per_user > self._config.user_per_minute:
            return False
        per_app = await cache.incr(f"push:rate:app:{second}", 10)
        return per_app <= self._config.app_per_second

    # PushServer
    async def plan(self, data: dict[str, Any]) -> None:
        """One ``push.job`` per device token, unless the user asked for silence."""
        user, message = data["user"], data["message"]
        conversation, now = message["conversation"], _now_ms()
        prefs = await self._ports.pushes.preferences(user)
        if in_do_not_disturb(prefs, now):
            self.metrics.dropped("do_not_disturb")
            return
        mutes = await self._ports.pushes.conversation_mutes(user, [conversation])
        if mutes.get(conversation, 0) > now:
            self.metrics.dropped("muted")
            return
        tokens = [
            t
            for t in await self._ports.devices.push_tokens(user)
            if t.platform not in NO_PUSH_PLATFORMS
        ]
        if not tokens:
            self.metrics.dropped("no_token")
            return
        notification = {
            "title": await self._title(conversation),
            "body": preview_body(message["content"], prefs.preview),
            "conversation": conversation,
            "seq": message["seq"],
            "badge": await self._unread(user, conversation, message["seq"]),
        }
        for token in tokens:
            job = {
                "key": job_key(message["msg_id"], token.device_id),
                "user": user,
                "device": token.device_id,
                "provider": token.provider,
                "token": token.token,
                "notification": notification,
                "attempt": 0,
                "not_before": 0,
            }
            await self._publish(catalog.PUSH_JOB, job, user)

    async def _title(self, conversation: str) -> str:
        conv = parse_conversation(conversation)
        if conv.kind == "g":
            snapshot = await self._snapshots.get(conv.parts[0])
            if snapshot is not None:
                return snapshot.group.name
        return "New message"

    async def _unread(self, user: str, conversation: str, seq: int) -> int:
        """This conversation's messages above the user's read mark (the badge)."""
        entries = await self._ports.conversations.get_entries(user, [conversation])
        entry = entries.get(conversation)
        return max(seq - (entry.read_seq if entry else 0), 1)

    # PushWorker
    async def deliver(self, job: dict[str, Any]) -> None:
        """Send one notification at most once to a final status; retry or dead-letter."""
        wait_s = (job["not_before"] - _now_ms()) / 1000
        if wait_s > 0:
            await asyncio.sleep(min(wait_s, MAX_WAIT_S))
            if wait_s > MAX_WAIT_S:
                await self._publish(catalog.PUSH_JOB, job, job["user"])
                return
        pushes = self._ports.pushes
        record = await pushes.claim(
            job["key"], job["user"], job["device"], job["provider"], _now_ms()
        )
        if record is None:
            self.metrics.dropped("already_final")
            return  # a replay: this notification already reached a final status
        provider = self._providers.get(job["provider"])
        if provider is None:
            outcome = PushOutcome.rejected(f"provider {job['provider']} is not configured")
        else:
            outcome = await provider.send(self._notification(job))
        self.metrics.sent(job["provider"], outcome.kind.value, outcome.latency_ms)
        status = outcome.kind.value
        if outcome.kind is OutcomeKind.INVALID_TOKEN:
            await self._ports.devices.drop_push_token(job["user"], job["device"], job["token"])
        elif outcome.kind is OutcomeKind.RETRY:
            decision = self._config.retry.decide(record.attempts, outcome.retry_after_s)
            if decision.dead_letter:
                status = "dead"
            else:
                status = "pending"
                later = {
                    **job,
                    "attempt": record.attempts,
                    "not_before": _now_ms() + int(decision.delay_s * 1000),
                }
                await self._publish(catalog.PUSH_JOB, later, job["user"])
        await pushes.finish(
            job["key"],
            status,
            outcome.latency_ms,
            outcome.provider_message_id,
            outcome.reason,
            _now_ms(),
        )
        if status in ("dead", "rejected"):
            dead = {**job, "attempt": record.attempts, "reason": outcome.reason or status}
            await self._publish(catalog.PUSH_DEAD, dead, job["user"])

    @staticmethod
    def _notification(job: dict[str, Any]) -> PushNotification:
        n = job["notification"]
        return PushNotification(
            device_token=job["token"],
            provider=job["provider"],
            title=n["title"],
            body=n["body"],
            conversation=n["conversation"],
            seq=n["seq"],
            idempotency_key=job["key"],
            badge=n["badge"],
            # A newer message of the same conversation replaces an older one on the device.
            collapse_key=n["conversation"],
        )

    # Frames
    async def settings(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Change (or, with no field, read) the caller's preview and do-not-disturb."""
        current = await self._ports.pushes.preferences(ctx.user_id)
        wanted = read_preferences(frame, current)
        if wanted != current:
            await self._ports.pushes.set_preferences(wanted)
        return {"type": "push.settings.ok", **preferences_frame(wanted)}

    async def mute(self, ctx: FrameContext, frame: dict[str, Any]) -> dict[str, Any]:
        """Mute pushes of one of the caller's conversations until ``until`` (0 lifts it)."""
        if "conversation" not in frame:
            raise BadRequest("conversation is required")
        conversation = parse_conversation(frame["conversation"]).text
        until = frame.get("until")
        if isinstance(until, bool) or not isinstance(until, int) or not 0 <= until < 2**53:
            raise BadRequest("until must be a ms epoch (0 lifts the mute)")
        await self._members.require_member(conversation, ctx.user_id)
        await self._ports.pushes.set_conversation_mute(ctx.user_id, conversation, until)
        return {"type": "push.mute.ok"}

    async def _publish(self, event_type: str, data: dict[str, Any], key: str) -> None:
        await self._ports.bus.publish(new_event(event_type, SOURCE, data, subject=key), key=key)


def create_function(settings: Settings, ports: Ports) -> PushFunction:
    """Build the push function on already opened ports."""
    return PushFunction(PushConfig.from_settings(settings), ports)
