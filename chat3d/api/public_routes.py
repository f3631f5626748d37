"""The one list of routes that answer without signing in.

Every other route requires a signed-in user; tests/security/test_auth_matrix.py walks the app's route table
and checks that each route not listed here answers 401 without a token, so a new route is covered as
soon as it exists.
"""

from __future__ import annotations

UNKNOWN_API_PATH = "/api/{path:path}"
UNKNOWN_API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")

PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        ("GET", "/health"),
        ("HEAD", "/health"),
        ("GET", "/ready"),
        ("HEAD", "/ready"),
        ("GET", "/api/openapi.json"),
        ("HEAD", "/api/openapi.json"),
        ("GET", "/api/docs"),
        ("HEAD", "/api/docs"),
        ("GET", "/api/public/config"),
        # Where a form submitted before the page is live goes: it reads nothing and answers 204, so a password
        # typed too early never lands in a URL (chat3d/components/forms.py).
        ("POST", "/api/public/form-not-live"),
        ("POST", "/api/auth/register"),
        ("POST", "/api/auth/login"),
        # Ends the presented session if there is one and always clears the cookie, so a stale cookie can go.
        ("POST", "/api/auth/logout"),
        # The waitlist: joining answers the same for every address; the others need a token from a mail.
        ("POST", "/api/waitlist/join"),
        ("GET", "/api/waitlist/confirm-email"),
        ("POST", "/api/waitlist/confirm-email"),
        ("GET", "/api/waitlist/status"),
        ("GET", "/api/waitlist/unsubscribe"),
        ("POST", "/api/waitlist/unsubscribe"),
        # Account actions: forgot password and reactivation answer the same for every address; the confirm
        # routes take the mailed token as their credential (a caller signed in as someone else is refused);
        # the preview shows only the action type, its status and a masked new address.
        ("POST", "/api/auth/password-reset/request"),
        ("POST", "/api/auth/password-reset/confirm"),
        ("POST", "/api/profile/reactivate/request"),
        ("GET", "/api/profile/actions/preview"),
        ("GET", "/api/profile/actions/confirm"),
        ("POST", "/api/profile/actions/confirm"),
        # Share links: the token is the credential; they expose one version's metrics and files, nothing else
        # (chat3d/domain/shares.py), and answer 404 once the link is revoked or expired.
        ("GET", "/api/share/{token}"),
        ("GET", "/api/share/{token}/files/{file_id}"),
        ("HEAD", "/api/share/{token}/files/{file_id}"),
        ("GET", "/api/share/{token}/parts/{number}/{fmt}"),
        ("HEAD", "/api/share/{token}/parts/{number}/{fmt}"),
        # The JSON 404 for unknown /api paths.
        *((method, UNKNOWN_API_PATH) for method in UNKNOWN_API_METHODS),
    }
)
