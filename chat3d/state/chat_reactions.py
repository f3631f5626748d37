"""What one chat pane's change means for the others, in one place.

The panes (chat: thread and thumbs; chat_contexts; chat_composer; chat_workbench; versions) keep their own state,
read the open chat from ActiveChatState and import none of each other. Every handler whose effect crosses panes
is here: opening a chat (the page's on_load), the SSE events of the open chat, sending a prompt, the chat's
units, a kept edit, restoring or comparing a version, the Versions tab. This module imports the panes; no pane
imports it (tests/state/test_import_graph.py), so the chat states form no import cycle.
"""

from __future__ import annotations

import uuid

import reflex as rx

from chat3d.db.engine import session_scope
from chat3d.domain import chats
from chat3d.domain.errors import DomainError
from chat3d.events import types as ev
from chat3d.state import chat as thread_pane
from chat3d.state import chat_composer as composer_pane
from chat3d.state import chat_contexts as contexts_pane
from chat3d.state import chat_workbench as workbench_pane
from chat3d.state import versions as versions_pane
from chat3d.state.active_chat import ActiveChatState, signed_in_user_id
from chat3d.state.chat import ThreadState, context_id_from_path, scroll_thread_end
from chat3d.state.chat_composer import PROMPT_ID, ComposerState
from chat3d.state.chat_contexts import ContextsState
from chat3d.state.chat_view import TERMINAL, ItemView, state_label
from chat3d.state.chat_workbench import WorkbenchState
from chat3d.state.versions import VersionsState


class ChatReactionsState(rx.State):
    """No fields of its own: its handlers load the panes they change (each pane's state is sent only when it
    changed)."""

    # --- opening a chat -------------------------------------------------------------------------------------

    @rx.event
    async def open_chat(self):
        """On load of /chat and /chat/[context_id]: open the chat (or the last one, or the empty state)."""
        uid = await signed_in_user_id(self)
        if uid is None:
            return
        contexts = await self.get_state(ContextsState)
        contexts_pane.reload_contexts(contexts, uid)
        cid = context_id_from_path(self.router.url.path)
        if not cid:
            with session_scope() as s:
                last = chats.list_contexts(s, uid, limit=1).items
                last_id = str(last[0].id) if last else ""
            if last_id:
                return rx.redirect(f"/chat/{last_id}", replace=True)
            await self._leave_chat(uid)
            return
        thread = await self.get_state(ThreadState)
        try:
            await thread_pane.open_items(thread, uid, cid)
        except DomainError:
            await self._leave_chat(uid, error_shown=True)
            return
        (await self.get_state(ActiveChatState)).context_id = cid
        with session_scope() as s:
            composer_pane.load_models(await self.get_state(ComposerState), chats.get_context(s, uid, cid))
        workbench = await self.get_state(WorkbenchState)
        latest = thread_pane.latest_model_item(thread)
        if latest:
            workbench_pane.show_item(workbench, uid, latest)
        else:
            workbench_pane.clear_workbench(workbench)
        versions_pane.follow_chat(await self.get_state(VersionsState), uid, cid)
        return [*thread_pane.watch_events(thread), scroll_thread_end()]

    async def _leave_chat(self, uid: uuid.UUID, *, error_shown: bool = False) -> None:
        """No chat open: the empty page (or a chat that could not be opened, its error already in the thread)."""
        if not error_shown:
            await thread_pane.clear_items(await self.get_state(ThreadState))
        (await self.get_state(ActiveChatState)).context_id = ""
        workbench_pane.clear_workbench(await self.get_state(WorkbenchState))
        composer_pane.load_models(await self.get_state(ComposerState), None)
        versions_pane.follow_chat(await self.get_state(VersionsState), uid, "")

    # --- the open chat's events -----------------------------------------------------------------------------

    async def _answer_finished(self, uid: uuid.UUID, view: ItemView | None) -> bool:
        """An answer that is no longer pending and has a model: show it in the workbench and refresh the contexts
        pane (the chat's order and its current version's thumbnail). Called by whichever path sees the end first:
        the SSE item event, the SSE state event, or the watcher's poll when the stream missed both."""
        if view is None or view.pending or not view.has_model:
            return False
        contexts_pane.reload_contexts(await self.get_state(ContextsState), uid)
        workbench_pane.show_item(await self.get_state(WorkbenchState), uid, view.id)
        active = await self.get_state(ActiveChatState)
        versions_pane.follow_chat(await self.get_state(VersionsState), uid, active.context_id)  # listed at once
        return True

    @rx.event
    async def on_event(self, event: dict):
        """One SSE event (forwarded by the app shell's EventSource, on every signed-in page): refresh what it
        names; off the chat pages there is nothing to refresh (the chat page reloads on load)."""
        if not isinstance(event, dict):
            return
        etype = event.get("type")
        payload = event.get("payload") or {}
        if etype not in (ev.CHAT_ITEM_UPDATED, ev.CHAT_QUERY_STATE) or not isinstance(payload, dict):
            return
        if not (self.router.url.path or "").startswith("/chat"):
            return
        uid = await signed_in_user_id(self)
        if uid is None:
            return
        ctx_id = str(payload.get("contextId") or "")
        if ctx_id != (await self.get_state(ActiveChatState)).context_id:
            if etype == ev.CHAT_ITEM_UPDATED:
                contexts_pane.reload_contexts(await self.get_state(ContextsState), uid)
            return
        thread = await self.get_state(ThreadState)
        if etype == ev.CHAT_QUERY_STATE:
            item_id = str(payload.get("assistantItemId") or "")
            state = str(payload.get("state") or "")
            if not item_id:
                return
            thread_pane.add_chip(thread, item_id, state_label(state, int(payload.get("round") or 0)))
            if state in TERMINAL and thread_pane.is_pending(thread, item_id):  # its item event was missed
                await self._answer_finished(uid, await thread_pane.reload_item(thread, uid, item_id))
            return
        item_id = str(payload.get("itemId") or "")
        known = thread_pane.has_item(thread, item_id)
        view = await thread_pane.reload_item(thread, uid, item_id)
        if view is None:
            return
        finished = await self._answer_finished(uid, view)
        if not finished and (payload.get("role") == "user" or not known):
            contexts_pane.reload_contexts(await self.get_state(ContextsState), uid)  # the chat moves to the top
        events: list = []
        if view.pending and view.query_id:
            events.append(ThreadState.watch_query(view.query_id, view.id))  # type: ignore[misc]  # an @rx.event handler called with arguments
        if not known:
            events.append(scroll_thread_end())
        return events

    # --- the composer -----------------------------------------------------------------------------------------

    @rx.event
    async def send(self, form: dict):
        return await self._send(str(form.get("prompt") or ""))

    @rx.event
    async def send_example(self, prompt: str):
        return await self._send(prompt)

    async def _send(self, prompt: str):
        """Submit to the open chat (or a new one), with what the user picked in the viewer; the thread shows the
        prompt and the pending answer at once and the contexts pane moves the chat to the top."""
        uid = await signed_in_user_id(self)
        if uid is None:
            return
        active = await self.get_state(ActiveChatState)
        new_chat = not active.context_id
        workbench = await self.get_state(WorkbenchState)
        picked = None if new_chat else workbench_pane.picked_for(workbench, active.context_id)
        submitted = composer_pane.submit(await self.get_state(ComposerState), uid, active.context_id, prompt, picked)
        if submitted is None:
            return
        cid, qid, aid = submitted
        workbench_pane.clear_picked(workbench)  # the selection went with this message
        contexts_pane.reload_contexts(await self.get_state(ContextsState), uid)
        events: list = [rx.set_value(PROMPT_ID, "")]
        thread = await self.get_state(ThreadState)
        await thread_pane.load_items(thread, uid, cid)
        if new_chat:
            # The page for the new chat keeps these items and their live progress (same chat id).
            active.context_id, thread.loaded = cid, True
            return [*events, ThreadState.watch_query(str(qid), aid), rx.redirect(f"/chat/{cid}")]  # type: ignore[misc]  # an @rx.event handler called with arguments
        return [*events, ThreadState.watch_query(str(qid), aid), scroll_thread_end()]  # type: ignore[misc]  # an @rx.event handler called with arguments

    @rx.event
    async def set_units(self, value: str):
        """Millimetres or inches for this chat: the model is asked in these units, and answers, the viewer, sizes
        and parameters show them."""
        uid = await signed_in_user_id(self)
        active = await self.get_state(ActiveChatState)
        composer = await self.get_state(ComposerState)
        if uid is None or not active.context_id:
            if value in composer.unit_options:
                composer.units = value
            return
        if not composer_pane.save_units(composer, uid, active.context_id, value):
            return
        await thread_pane.load_items(await self.get_state(ThreadState), uid, active.context_id)
        workbench_pane.set_units(await self.get_state(WorkbenchState), value)

    # --- the workbench: edits that make a version --------------------------------------------------------------

    async def _edit_landed(self, uid: uuid.UUID, result) -> list:
        """An edit's render ended: the workbench shows the new version (or the error), the thread and the Versions
        tab list it."""
        if not workbench_pane.show_edit(await self.get_state(WorkbenchState), uid, result):
            return []
        if result.context_id == (await self.get_state(ActiveChatState)).context_id:
            await thread_pane.reload_item(await self.get_state(ThreadState), uid, result.item_id)
        versions_pane.reload_versions(await self.get_state(VersionsState), uid, result.context_id)
        return [scroll_thread_end()]

    @rx.event(background=True)
    async def render_code(self, form: dict):
        """The code editor's "Render": render the edited program and keep it as a version (background: a render
        takes seconds and must not hold the tab's state lock)."""
        from chat3d.pipeline import edits

        async with self:
            uid = await signed_in_user_id(self)
            if uid is None:
                return
            item_id = workbench_pane.start_code_render(await self.get_state(WorkbenchState))
            if not item_id:
                return
        try:
            result = await edits.render_edit(uid, item_id, str(form.get("code") or ""), origin="edited")
        except DomainError as exc:
            async with self:
                workbench_pane.render_failed(await self.get_state(WorkbenchState), exc.message)
            return
        except Exception:
            async with self:
                workbench_pane.render_failed(
                    await self.get_state(WorkbenchState), "Something went wrong while rendering; try again."
                )
            return
        async with self:
            events = await self._edit_landed(uid, result)
        for event in events:
            yield event

    @rx.event(background=True)
    async def keep_preview(self):
        """Store the shown parameter preview as a new version (rendered again with every format: edits.keep_preview)."""
        from chat3d.pipeline import edits

        async with self:
            uid = await signed_in_user_id(self)
            if uid is None:
                return
            preview = workbench_pane.start_keep(await self.get_state(WorkbenchState), uid)
            if preview is None:
                return
        try:
            result = await edits.keep_preview(preview)
        except DomainError as exc:
            async with self:
                workbench_pane.render_failed(await self.get_state(WorkbenchState), exc.message)
            return
        async with self:
            workbench_pane.kept(await self.get_state(WorkbenchState))
            events = await self._edit_landed(uid, result)
        for event in events:
            yield event

    @rx.event
    async def set_workbench_tab(self, tab: str):
        """A workbench tab chosen; the Versions tab re-reads the chat's versions and links."""
        workbench_pane.choose_tab(await self.get_state(WorkbenchState), tab)
        if tab == "versions":
            return VersionsState.load

    # --- the Versions tab ------------------------------------------------------------------------------------

    @rx.event
    async def restore_version(self, item_id: str):
        """Build on this version: it becomes the chat's current one, on show in the workbench and as the chat's
        thumbnail."""
        uid = await signed_in_user_id(self)
        if uid is None:
            return
        error = versions_pane.restore(await self.get_state(VersionsState), uid, item_id)
        if error is None:
            return
        if error:
            return rx.toast.error(error)
        workbench_pane.show_item(await self.get_state(WorkbenchState), uid, item_id)
        contexts_pane.reload_contexts(await self.get_state(ContextsState), uid)
        return rx.toast.success("The next prompt builds on this version.")

    @rx.event
    async def compare_versions(self, item_id: str):
        """Compare a version with the one the workbench shows."""
        uid = await signed_in_user_id(self)
        if uid is None:
            return
        shown = (await self.get_state(WorkbenchState)).item_id
        return versions_pane.compare(await self.get_state(VersionsState), uid, item_id, shown)
