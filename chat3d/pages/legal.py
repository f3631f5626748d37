"""Privacy and terms: short, plain statements of what a self-hosted Chat3D does with data."""

import reflex as rx

from chat3d.components.layout import public_shell


def _doc(title: str, *paragraphs: str) -> rx.Component:
    return public_shell(
        rx.vstack(
            rx.heading(title, size="7"),
            *[rx.text(p, size="3") for p in paragraphs],
            spacing="4",
            max_width="44em",
            margin_x="auto",
            padding="3em 1.25em",
        )
    )


def privacy_page() -> rx.Component:
    return _doc(
        "Privacy",
        "Chat3D stores your account (email, display name, a hash of your password), your chats, the models "
        "generated for you and the files you attach, on the server of whoever runs this instance.",
        "Prompts are sent to the language-model provider selected for your chat; the offline model sends "
        "nothing anywhere. Generated programs run in an isolated render service with no network access.",
        "You can export all of your data from your profile, and delete your account: it is deactivated at "
        "once and erased after a 30-day window in which you can change your mind.",
        "Marketing email is only sent with your consent, which you can withdraw from any such email.",
    )


def terms_page() -> rx.Component:
    return _doc(
        "Terms",
        "Use Chat3D for lawful designs only. Generated models come without warranty: check dimensions and "
        "fitness before you manufacture anything.",
        "You own what you create. The operator of this instance may suspend accounts that abuse the service.",
    )
