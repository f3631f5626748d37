"""The thread pane: user and assistant bubbles, live progress chips, errors with Retry, metrics, actions."""

from __future__ import annotations

from typing import Annotated, cast

import reflex as rx
from reflex.event import passthrough_event_spec
from reflex.vars import ObjectVar

from chat3d.components.chat_composer import units_picker
from chat3d.state.active_chat import ActiveChatState
from chat3d.state.auth import AuthState
from chat3d.state.chat import RatingsState, ThreadState
from chat3d.state.chat_composer import ComposerState
from chat3d.state.chat_reactions import ChatReactionsState
from chat3d.state.chat_view import EXAMPLE_PROMPTS, FileView, ItemView
from chat3d.state.chat_workbench import WorkbenchState

NARROW = "@media (max-width: 1023px)"  # one pane at a time (chat3d.pages.chat)
WIDE = "@media (min-width: 1024px)"
BUBBLE_STYLE: dict[str, str] = {
    # No `content-visibility: auto` here: with 200 bubbles it made Chromium restyle and re-lay out the thread three
    # times per update (its off-screen bookkeeping runs an intersection pass each frame), which held the main
    # thread for ~10 ms after every click before the answer's delta could be handled (bench/ui_bench.py).
}


def _codeblock(value, **props) -> rx.Component:
    return rx.code_block(value, can_copy=True, margin_y="0.75em", wrap_long_lines=True, **props)


@rx.memo
def markdown_text(text: rx.Var[str]) -> rx.Component:
    """A bubble's markdown as its own React.memo component: it re-renders only when its text changes. (rx.markdown
    builds its component map anew on every render, so re-rendering it re-parses the text and remounts its DOM:
    without this, pressing a thumb rebuilt that answer's whole text.) No raw HTML (`use_raw=False`): the text comes
    from users and models, and `<iframe srcdoc>` or `<img onerror>` in it would run script in the reader's tab."""
    return rx.markdown(text, component_map={"pre": _codeblock}, use_raw=False)


def _markdown(text) -> rx.Component:
    return markdown_text(text=text)


def _attachment(f: ObjectVar[FileView]) -> rx.Component:
    return rx.link(
        rx.image(
            src=f.url,
            alt=f.filename,
            width="72px",
            height="72px",
            object_fit="cover",
            border_radius="var(--radius-2)",
            border="1px solid var(--gray-a6)",
            loading="lazy",
        ),
        href=f.url,
        is_external=True,
        aria_label="Open attachment " + f.filename.to(str),
    )


def _pick(label) -> rx.Component:
    """A face or edge this message pointed at, as its chip said it when it was sent."""
    return rx.badge(
        rx.icon("mouse-pointer-click", size=12),
        rx.text.span(label),
        variant="surface",
        radius="full",
        role="listitem",
        data_testid="message-pick",
        style={"gap": "6px", "align_items": "center"},
    )


def _user_bubble(item: ObjectVar[ItemView]) -> rx.Component:
    return rx.flex(
        rx.box(
            _markdown(item.text),
            rx.cond(
                item.attachments.length() > 0,
                rx.hstack(rx.foreach(item.attachments, _attachment), spacing="2", wrap="wrap", margin_top="0.5em"),
            ),
            rx.cond(
                item.picks.length() > 0,
                rx.hstack(
                    rx.foreach(item.picks, _pick),
                    spacing="2",
                    wrap="wrap",
                    role="list",
                    aria_label="Pointed at",
                    margin_y="0.5em",
                ),
            ),
            background="var(--accent-a3)",
            padding="0.1em 1em",
            border_radius="var(--radius-4)",
            max_width="85%",
            min_width="0",
            overflow_wrap="anywhere",
        ),
        justify="end",
        width="100%",
        data_testid="user-bubble",
        style=BUBBLE_STYLE,
    )


def _chip(label) -> rx.Component:
    return rx.badge(
        label,
        color_scheme=rx.match(label, ("Completed", "green"), ("Failed", "red"), ("Stopped", "orange"), "gray"),
        variant="soft",
        radius="full",
        data_testid="progress-chip",
    )


def _progress(item: ObjectVar[ItemView], chips) -> rx.Component:
    return rx.hstack(
        rx.foreach(chips, _chip),
        rx.cond(item.pending, rx.spinner(size="1")),
        spacing="1",
        wrap="wrap",
        align="center",
        aria_live="polite",
        aria_label="Progress",
        role="status",
    )


def _regenerate_menu(item: ObjectVar[ItemView], codegen_models) -> rx.Component:
    return rx.menu.root(
        rx.menu.trigger(
            rx.icon_button(
                rx.icon("chevron-down", size=14),
                size="1",
                variant="ghost",
                color_scheme="gray",
                aria_label="Regenerate with another code model",
            )
        ),
        rx.menu.content(
            rx.text("Regenerate with", size="1", color_scheme="gray", padding="0.25em 0.75em"),
            rx.foreach(codegen_models, lambda m: rx.menu.item(m, on_select=ThreadState.regenerate(item.id, m))),  # type: ignore[operator]  # an @rx.event handler called with arguments
        ),
    )


class RatingThumbs(rx.Component):
    """One answer's thumbs (assets/chat3d_thumbs.jsx): select their own answer's entry of the ratings RatingsFeed
    publishes, so a rating re-renders that answer's thumbs and nothing else on the page, however many answers are
    shown (a Reflex component reading RatingsState in every bubble would re-render on every rating, one per answer)."""

    library = rx.asset("chat3d_thumbs.jsx").importable_path
    tag = "RatingThumbs"

    item_id: rx.Var[str]
    # `rx.EventHandler[spec]` is `Annotated[rx.EventHandler, spec]` at runtime (Reflex reads the event's argument
    # spec from it), written out so that it is also a type mypy understands.
    on_rate: Annotated[rx.EventHandler, passthrough_event_spec(int)]


class RatingsFeed(rx.Component):
    """Renders nothing: the one reader of RatingsState.ratings, handing them to every RatingThumbs on the page."""

    library = rx.asset("chat3d_thumbs.jsx").importable_path
    tag = "RatingsFeed"

    ratings: rx.Var[dict[str, int]]


def _thumbs(item: ObjectVar[ItemView]) -> rx.Component:
    return RatingThumbs.create(item_id=item.id, on_rate=lambda value: RatingsState.rate(item.id, value))  # type: ignore[operator]  # an @rx.event handler called with arguments


def _actions(item: ObjectVar[ItemView], selected, codegen_models) -> rx.Component:
    return rx.hstack(
        _thumbs(item),
        rx.cond(
            item.can_regenerate,  # an imported part or an edited version has no request to run again
            rx.fragment(
                rx.button(
                    rx.icon("refresh-cw", size=14),
                    "Regenerate",
                    size="1",
                    variant="ghost",
                    color_scheme="gray",
                    on_click=ThreadState.regenerate(item.id, ""),  # type: ignore[operator]  # an @rx.event handler called with arguments
                ),
                _regenerate_menu(item, codegen_models),
            ),
        ),
        rx.cond(
            item.has_model,
            rx.fragment(
                rx.button(
                    rx.icon("box", size=14),
                    "Show model",
                    size="1",
                    variant=rx.cond(selected, "soft", "ghost"),
                    on_click=WorkbenchState.select_item(item.id),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    style={NARROW: {"display": "none"}},
                ),
                # On a phone the preview is another pane, out of sight: a clear way to it from the answer.
                rx.button(
                    rx.icon("box", size=14),
                    "Open 3D preview",
                    size="2",
                    on_click=WorkbenchState.select_item(item.id),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    style={WIDE: {"display": "none"}},
                ),
            ),
        ),
        spacing="2",
        align="center",
        wrap="wrap",
    )


def _assistant_bubble(item: ObjectVar[ItemView], selected, codegen_models, chips, streamed) -> rx.Component:
    text = rx.cond(streamed != "", streamed, item.text)
    return rx.box(
        rx.hstack(
            rx.icon("box", size=16, color="var(--accent-9)"),
            rx.text("Chat3D", size="1", weight="medium", color_scheme="gray"),
            rx.cond(item.version_label != "", rx.badge(item.version_label, variant="outline", size="1")),
            spacing="2",
            align="center",
        ),
        rx.cond(chips.length() > 0, _progress(item, chips)),
        rx.cond(text != "", _markdown(text)),
        rx.cond(
            item.error != "",
            rx.callout.root(
                rx.callout.icon(rx.icon("triangle-alert", size=16)),
                rx.callout.text(item.error),
                rx.cond(
                    item.retryable,
                    rx.button(
                        rx.icon("rotate-ccw", size=14),
                        "Retry",
                        size="1",
                        color_scheme="red",
                        variant="soft",
                        on_click=ThreadState.regenerate(item.id, ""),  # type: ignore[operator]  # an @rx.event handler called with arguments
                        width="fit-content",
                    ),
                ),
                color_scheme="red",
                size="1",
                role="alert",
                margin_y="0.5em",
            ),
        ),
        rx.foreach(item.warnings, lambda w: rx.text(w, size="1", color_scheme="orange")),
        rx.cond(
            item.metrics_line != "",
            rx.text(item.metrics_line, size="1", color_scheme="gray", data_testid="metrics-line", margin_y="0.25em"),
        ),
        rx.cond(
            item.checklist != "",
            rx.text(item.checklist, size="1", data_testid="requirements-checklist", margin_y="0.25em"),
        ),  # issue 23: what was asked, checked on the solid
        rx.cond(item.review_views_url != "", _review_views(item)),
        rx.cond(item.models_label != "", rx.text(item.models_label, size="1", color_scheme="gray")),
        rx.cond(~item.pending, _actions(item, selected, codegen_models)),
        padding="0.75em 1em",
        border_radius="var(--radius-4)",
        border=rx.cond(selected, "1px solid var(--accent-8)", "1px solid var(--gray-a5)"),
        background="var(--color-panel-solid)",
        width="100%",
        min_width="0",
        overflow_wrap="anywhere",
        data_testid="assistant-bubble",
        style=BUBBLE_STYLE,
    )


def _review_views(item: ObjectVar[ItemView]) -> rx.Component:
    """Issue 23 item 2: the rendered views a vision model reviewed, small, opening full size in a new tab."""
    return rx.el.details(
        rx.el.summary(rx.text(item.review_caption, size="1", as_="span"), cursor="pointer"),
        rx.el.a(
            rx.image(
                src=item.review_views_url,
                alt="Top, front, right and iso views of the part",
                width="240px",
                max_width="100%",
                border="1px solid var(--gray-a5)",
                border_radius="var(--radius-2)",
            ),
            href=item.review_views_url,
            target="_blank",
            rel="noopener",
        ),
        margin_y="0.25em",
        data_testid="review-views",
    )


@rx.memo
def item_bubble(
    item: ObjectVar[ItemView],
    selected: rx.Var[bool],
    codegen_models: rx.Var[list[str]],
    chips: rx.Var[list[str]],
    streamed: rx.Var[str],
) -> rx.Component:
    """One bubble as its own React.memo component. Everything it shows comes in as props (the thumbs inside
    read RatingsState themselves), so a delta that leaves this item's object, chips, streamed text and selection
    alone does not re-render it, and a rating re-renders no bubble at all. (Reflex's applyDelta keeps unchanged
    values' identity, so even a re-sent list re-renders only the items that changed.)"""
    return rx.cond(
        item.role == "user", _user_bubble(item), _assistant_bubble(item, selected, codegen_models, chips, streamed)
    )


def _bubble(item: ObjectVar[ItemView]) -> rx.Component:
    # The casts say what these are at runtime: Reflex's Field.__get__ overloads give a dict field's class access
    # as ArrayVar[Never] under mypy, but it is an ObjectVar (which has .get).
    progress = cast(ObjectVar[dict[str, list[str]]], ThreadState.progress)
    streaming = cast(ObjectVar[dict[str, str]], ThreadState.streaming)
    return item_bubble(
        item=item,
        selected=WorkbenchState.item_id == item.id,
        codegen_models=ComposerState.codegen_models,
        chips=progress.get(item.id, item.progress),  # live chips, else the item's own
        streamed=streaming.get(item.id, ""),  # a pending answer's text so far
    )


def empty_state() -> rx.Component:
    return rx.vstack(
        rx.heading(rx.text.span("Welcome, "), rx.text.span(AuthState.user_label), size="6", as_="h1"),
        rx.text("Describe a part to start a new chat, or try one of these:", color_scheme="gray"),
        rx.vstack(
            *[
                rx.button(
                    rx.icon("sparkles", size=14),
                    p,
                    variant="surface",
                    size="2",
                    white_space="normal",
                    height="auto",
                    padding="0.5em 0.9em",
                    text_align="left",
                    on_click=ChatReactionsState.send_example(p),  # type: ignore[operator]  # an @rx.event handler called with arguments
                    aria_label=f"Try: {p}",
                )
                for p in EXAMPLE_PROMPTS
            ],
            spacing="2",
            align="start",
        ),
        spacing="3",
        align="start",
        padding="2em 0.5em",
        data_testid="empty-state",
    )


def thread_pane(composer: rx.Component) -> rx.Component:
    return rx.vstack(
        rx.hstack(
            # The whole name, wrapped on a narrow screen (never cut off with an ellipsis).
            rx.heading(
                rx.cond(ActiveChatState.name != "", ActiveChatState.name, "New chat"),
                size="3",
                as_="h2",
                trim="both",
                overflow_wrap="anywhere",
                min_width="0",
            ),
            rx.spacer(),
            units_picker(),
            align="center",
            padding="0.9em 1em 0.5em",
            width="100%",
            border_bottom="1px solid var(--gray-a4)",
        ),
        rx.box(
            rx.vstack(
                rx.cond(
                    ThreadState.has_earlier,
                    rx.button(
                        "Load earlier", variant="soft", size="1", on_click=ThreadState.load_earlier, align_self="center"
                    ),
                ),
                rx.cond(ThreadState.error != "", rx.callout(ThreadState.error, color_scheme="red", role="alert")),
                rx.cond(ThreadState.items.length() == 0, rx.cond(ThreadState.loaded, empty_state())),
                RatingsFeed.create(ratings=RatingsState.ratings),
                rx.foreach(ThreadState.items, _bubble),
                rx.box(id="thread-end", height="1px"),
                spacing="3",
                width="100%",
                padding="1em",
            ),
            id="thread-scroll",
            role="log",
            aria_label="Conversation",
            flex="1",
            min_height="0",
            width="100%",
            overflow_y="auto",
        ),
        composer,
        spacing="0",
        height="100%",
        width="100%",
        custom_attrs={"data-chat-id": ActiveChatState.context_id},  # which chat this page has loaded (tests wait on it)
    )
