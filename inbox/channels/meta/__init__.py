"""Meta's messaging channels: WhatsApp Cloud API (`whatsapp`), Messenger (`messenger`) and
Instagram DMs (`instagram`). They share the webhook handshake and signature check
(`base`) and the Graph API client (`graph`); importing `whatsapp` and `messenger`
registers the adapters (InboxConfig.ready does).
"""

from .selectors import reply_window, whatsapp_window_closes_at, whatsapp_window_open

__all__ = ["reply_window", "whatsapp_window_closes_at", "whatsapp_window_open"]
