from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import path

from .consumers import AgentConsumer, WidgetConsumer

websocket_urlpatterns = [
    # Agents' browsers come from this site only: session cookie and Origin checked.
    path("ws/agent/", AllowedHostsOriginValidator(AuthMiddlewareStack(AgentConsumer.as_asgi()))),
    # The widget runs on customers' sites: its Origin is checked per inbox at hello.
    path("ws/widget/", WidgetConsumer.as_asgi()),
]
