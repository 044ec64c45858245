"""Websocket consumers: authenticate, join groups, forward events. No business logic."""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from inbox.models import Inbox
from inbox.realtime import inbox_group
from inbox.selectors import inbox_ids_for_agent


@database_sync_to_async
def _agent_inbox_groups(agent) -> list[str]:
    inbox_ids = inbox_ids_for_agent(agent)
    ids = Inbox.objects.values_list("id", flat=True) if inbox_ids is None else inbox_ids.values_list(
        "id", flat=True
    )
    return [inbox_group(inbox_id) for inbox_id in ids]


class AgentConsumer(AsyncJsonWebsocketConsumer):
    """Live ticket and message events for the agent inbox (session cookie auth)."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=4401)
            return
        self.inbox_groups = await _agent_inbox_groups(user)
        for group in self.inbox_groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "inbox_groups", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def live_event(self, message):
        await self.send_json({"type": message["event"], "data": message["payload"]})
