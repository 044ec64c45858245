"""Settings of the product for the chat benchmark (bench/chat_latency.py): the dev settings,
with the channel layer the benchmark asks for in BENCH_CHANNEL_LAYER (`pubsub`, the
product's choice, or `core`)."""

import os

from config.settings.dev import *  # noqa: F403
from config.settings.dev import REDIS_URL


def channel_layers(redis_url: str, kind: str) -> dict:
    host = {"address": redis_url, "socket_timeout": None}  # redis-py 8: see STACK-NOTES
    if kind == "core":
        # The agent socket receives every conversation's events: the default capacity of
        # 100 queued messages per channel would drop some in a 200-conversation burst. And
        # redis-py 8 caps a pool at 100 connections: this layer takes one per pending
        # operation, so 200 visitors saying hello at once fail with MaxConnectionsError.
        return {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                            "CONFIG": {"hosts": [host | {"max_connections": 1000}],
                                       "capacity": 1000}}}
    return {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                        "CONFIG": {"hosts": [host]}}}


CHANNEL_LAYERS = channel_layers(REDIS_URL, os.environ.get("BENCH_CHANNEL_LAYER", "pubsub"))
