"""The web shell: layout, login, language, CSRF, shared helpers for the portal, console and board pages."""
