from django.utils import translation


class AgentLanguageMiddleware:
    """A signed-in agent sees the interface in their profile's language, whatever the
    browser asks for (runs after LocaleMiddleware and AuthenticationMiddleware)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and getattr(user, "language", ""):
            translation.activate(user.language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
