"""/dev/mailbox: the local outbox, for development without an SMTP server (absent in production)."""

from __future__ import annotations

import reflex as rx
from reflex.vars import ObjectVar

from chat3d.components.layout import public_shell
from chat3d.settings import get_settings


async def _admin_in_development(state: rx.State) -> bool:
    """The outbox holds every account's reset and confirmation links: development only, and admins only.

    Checked in every handler, not just on load, because a websocket client can send any event."""
    from chat3d.db.models import Role
    from chat3d.state.auth import AuthState

    if get_settings().chat3d_env != "development":
        return False
    auth = await state.get_state(AuthState)
    user = auth._current_user()
    auth._set_user(user)
    return user is not None and user.role == Role.admin.value


class MailboxState(rx.State):
    """Lists mail written to DATA_DIR/outbox (to admins, in development); selecting one shows its text and links."""

    messages: rx.Field[list[dict[str, str]]] = rx.field(default_factory=list)
    selected_id: str = ""
    subject: str = ""
    to: str = ""
    text: str = ""
    links: list[str] = []

    @rx.event
    async def load(self):
        if not await _admin_in_development(self):
            self.messages, self.selected_id, self.subject, self.to, self.text, self.links = [], "", "", "", "", []
            return rx.redirect("/")
        from chat3d.domain.outbox import list_dev_mailbox

        page, _total = list_dev_mailbox(limit=100)
        self.messages = [
            {"id": m["id"], "to": m["to"], "subject": m["subject"], "at": m["deliveredAt"][:19].replace("T", " ")}
            for m in page
        ]
        if self.messages and not self.selected_id:
            return MailboxState.open(self.messages[0]["id"])

    @rx.event
    async def open(self, message_id: str):
        from chat3d.domain.errors import NotFound
        from chat3d.domain.outbox import read_dev_message

        if not await _admin_in_development(self):
            return
        try:
            m = read_dev_message(message_id)
        except NotFound:
            return
        self.selected_id, self.subject, self.to, self.text = m["id"], m["subject"], m["to"], m["text"]
        self.links = list(m.get("links", []))


def _row(m: ObjectVar[dict[str, str]]) -> rx.Component:
    return rx.box(
        rx.text(m["subject"], weight="medium", size="2"),
        rx.text(m["to"], " · ", m["at"], size="1", color_scheme="gray"),
        on_click=MailboxState.open(m["id"]),  # type: ignore[operator]  # an @rx.event handler called with arguments
        padding="0.6em 0.8em",
        border_radius="var(--radius-2)",
        cursor="pointer",
        background=rx.cond(MailboxState.selected_id == m["id"], "var(--accent-a4)", "transparent"),
        _hover={"background": "var(--gray-a3)"},
        role="button",
        tab_index=0,
    )


def mailbox_page() -> rx.Component:
    return public_shell(
        rx.vstack(
            rx.heading("Mailbox", size="6"),
            rx.text(
                "Mail Chat3D sent while no SMTP server is configured (development only).", color_scheme="gray", size="2"
            ),
            rx.cond(
                MailboxState.messages.length() == 0,
                rx.callout("No mail yet.", icon="inbox"),
                rx.grid(
                    rx.vstack(rx.foreach(MailboxState.messages, _row), spacing="1", width="100%"),
                    rx.card(
                        rx.vstack(
                            rx.heading(MailboxState.subject, size="4"),
                            rx.text("To: ", MailboxState.to, size="2", color_scheme="gray"),
                            rx.el.pre(MailboxState.text, style={"whiteSpace": "pre-wrap", "fontFamily": "inherit"}),
                            rx.foreach(MailboxState.links, lambda link: rx.link(link, href=link, size="2")),
                            spacing="3",
                            align="start",
                        ),
                        width="100%",
                    ),
                    columns=rx.breakpoints(initial="1", md="2"),
                    spacing="4",
                    width="100%",
                ),
            ),
            spacing="4",
            padding="2em 1.25em",
            max_width="72em",
            margin_x="auto",
        )
    )
