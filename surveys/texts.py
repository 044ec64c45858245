"""What a survey says: question texts (per inbox, with defaults in every language), the
scale's end labels, the invitation bodies per channel, and the language a contact reads."""

from django.conf import settings
from django.utils import translation
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from inbox.models import Channel

from .scoring import SCALES

DEFAULT_QUESTIONS = {
    "csat": {
        "en": "How satisfied are you with the support you received?",
        "id": "Seberapa puas Anda dengan bantuan yang Anda terima?",
        "zh-hans": "您对我们提供的支持满意吗？",
    },
    "ces": {
        "en": "How easy was it to get your issue resolved?",
        "id": "Seberapa mudah masalah Anda terselesaikan?",
        "zh-hans": "解决您的问题有多容易？",
    },
    "nps": {
        "en": "How likely are you to recommend us to a friend or colleague?",
        "id": "Seberapa besar kemungkinan Anda merekomendasikan kami kepada teman atau kolega?",
        "zh-hans": "您有多大可能向朋友或同事推荐我们？",
    },
}

SCALE_LABELS = {
    "csat": (gettext_lazy("Very dissatisfied"), gettext_lazy("Very satisfied")),
    "ces": (gettext_lazy("Very difficult"), gettext_lazy("Very easy")),
    "nps": (gettext_lazy("Not at all likely"), gettext_lazy("Extremely likely")),
}


def language_normalize(value: str | None) -> str | None:
    """One of LANGUAGES for a tag such as `id-ID`, `zh_CN`, `zh-Hans`, `en-GB`; else None."""
    tag = (value or "").strip().lower().replace("_", "-")
    if tag.startswith("zh"):
        return "zh-hans"
    if tag in ("id", "in") or tag.startswith(("id-", "in-")):
        return "id"
    if tag == "en" or tag.startswith("en-"):
        return "en"
    return None


def language_for(*, contact, inbox) -> str:
    """The contact's language, else the inbox's (`language` in its config), else the
    site's."""
    return (language_normalize(contact.language) or language_normalize(inbox.config.get("language"))
            or language_normalize(settings.LANGUAGE_CODE) or "en")


def question_text(*, questions: dict, kind: str, language: str) -> str:
    """The inbox's own wording in `language` if it set one, else the default."""
    own = (questions or {}).get(kind) or {}
    defaults = DEFAULT_QUESTIONS[kind]
    return own.get(language) or defaults.get(language) or defaults["en"]


def invitation_bodies(*, channel: str, kind: str, question: str, url: str,
                      language: str) -> tuple[str, str]:
    """(text, html) of the invitation message. Email gets one link per score; other
    channels a short text with the survey link."""
    low, high = SCALES[kind]
    with translation.override(language):
        low_label, high_label = (str(label) for label in SCALE_LABELS[kind])
        if channel != Channel.EMAIL:
            return _("%(question)s Answer here: %(url)s") % {"question": question, "url": url}, ""
        scores = range(low, high + 1)
        text = "\n".join([
            question, "",
            _("%(low)s = %(low_label)s, %(high)s = %(high_label)s") % {
                "low": low, "low_label": low_label, "high": high, "high_label": high_label},
            "",
            *(f"{score}: {url}?score={score}" for score in scores),
            "", _("One click records your answer."),
        ])
        html = format_html(
            "<p>{}</p><p>{}</p><p>{} = {}, {} = {}</p><p>{}</p>",
            question,
            format_html_join(" ", '<a href="{}?score={}">{}</a>',
                             ((url, score, score) for score in scores)),
            low, low_label, high, high_label,
            _("One click records your answer."),
        )
    return text, str(html)
