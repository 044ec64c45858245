"""HTML sanitizing: every HTML body is cleaned before it is stored or shown."""

import nh3

_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


def html_sanitize(html: str) -> str:
    if not html:
        return ""
    return nh3.clean(
        html,
        url_schemes=_URL_SCHEMES,
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
