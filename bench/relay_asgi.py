"""The floor the chat benchmark compares Switchboard against: a bare Channels relay.

Served the same way (daphne, `--websocket_timeout -1`) on the same channel layer (REDIS_URL,
BENCH_CHANNEL_LAYER), it speaks just enough of the widget and agent protocols for the
benchmark's client, with no database, no auth and no services:

- `/ws/widget/`: `hello` joins the conversation's group (the token is the conversation id)
  and is answered with `welcome`; `message.send` is relayed to the agents' group as
  `message.new` and acked.
- `/ws/agent/`: joins the agents' group and forwards what arrives.
- `POST /relay/<conversation>` (the agent's reply): relayed to that conversation's group.
"""

import json
import os

import django
from django.conf import settings

from bench.chat_settings import channel_layers

settings.configure(
    DEBUG=False, SECRET_KEY="relay", ALLOWED_HOSTS=["*"], INSTALLED_APPS=["channels"],
    CHANNEL_LAYERS=channel_layers(os.environ["REDIS_URL"],
                                  os.environ.get("BENCH_CHANNEL_LAYER", "pubsub")),
)
django.setup()

from channels.generic.websocket import AsyncJsonWebsocketConsumer  # noqa: E402
from channels.layers import get_channel_layer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

AGENTS = "agents"


def relay_event(message: dict) -> dict:
    return {"type": "relay", "frame": {"type": "message.new", "message": message}}


class WidgetRelay(AsyncJsonWebsocketConsumer):
    async def receive_json(self, frame, **kwargs):
        if frame["type"] == "hello":
            await self.channel_layer.group_add(f"conversation.{frame['token']}",
                                               self.channel_name)
            await self.send_json({"type": "welcome", "tickets": []})
        elif frame["type"] == "message.send":
            message = {"body": frame["body"], "client_id": frame["client_id"]}
            await self.channel_layer.group_send(AGENTS, relay_event(message))
            await self.send_json({"type": "message.ack", "client_id": frame["client_id"],
                                  "message": message})

    async def relay(self, event):
        await self.send_json(event["frame"])


class AgentRelay(AsyncJsonWebsocketConsumer):
    async def connect(self):
        await self.channel_layer.group_add(AGENTS, self.channel_name)
        await self.accept()

    async def relay(self, event):
        await self.send_json({"type": "message.new", "data": event["frame"]["message"]})


async def http_relay(scope, receive, send):
    body, more = b"", True
    while more:
        event = await receive()
        body, more = body + event.get("body", b""), event.get("more_body", False)
    if scope["method"] != "POST" or not scope["path"].startswith("/relay/"):
        await send({"type": "http.response.start", "status": 404, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        return
    conversation = scope["path"].rsplit("/", 1)[-1]
    await get_channel_layer().group_send(f"conversation.{conversation}",
                                         relay_event(json.loads(body)))
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": b"{}"})


application = ProtocolTypeRouter({
    "http": http_relay,
    "websocket": URLRouter([
        path("ws/widget/", WidgetRelay.as_asgi()),
        path("ws/agent/", AgentRelay.as_asgi()),
    ]),
})
