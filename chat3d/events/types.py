"""Event type names carried by the `notifications` table and the SSE stream: their one definition.

Python code names them through these constants; the browser reads them (and `BRIDGE_PROPS`, and the query states
`chat.query.state` carries) from assets/chat3d_event_types.js, generated from here by
`python -m chat3d.events.js_module` (tests/events/test_js_module.py fails when it is out of date).

Every row of `notifications` is an event for one recipient; its `event_type` is one of these names.
Only `notification.created` rows are notifications in the user's sense: they count toward the unread
badge and are what `/api/notifications` lists. The other types are realtime state changes (a chat item
changed, a query moved stage, settings changed, an account was deactivated) delivered on the same
ordered stream so a client has one connection and one cursor.
"""

from __future__ import annotations

CHAT_ITEM_UPDATED = "chat.item.updated"
CHAT_QUERY_STATE = "chat.query.state"
NOTIFICATION_CREATED = "notification.created"
ADMIN_SETTINGS_UPDATED = "admin.settings.updated"
# Sent to every active admin when an admin approves or rejects waitlist entries (open consoles refresh;
# a newly confirmed entry is a `notification.created` with kind "waitlist.pending" instead).
ADMIN_WAITLIST_UPDATED = "admin.waitlist.updated"
ACCOUNT_STATUS_CHANGED = "account.status.changed"
# To the inviter when one of their invitations changes status (accepted, revoked, expired, waitlist → link sent):
# payload {invitationId, email, status}; the invitation manager re-reads. Accepted and expired also ring the
# bell (a `notification.created` with kind "invitation.accepted" / "invitation.expired").
INVITATION_UPDATED = "invitation.updated"
# To the account's owner when one of its sessions is revoked (sign-out, "sign out elsewhere", a revoke in the
# sessions list, password change, deactivation): payload {jti}. The stream of that session ends at once;
# the others can refresh their sessions list.
SESSION_REVOKED = "account.session.revoked"
# To the user whose role an admin changed: payload {role}; their pages re-read who they are at once.
ACCOUNT_ROLE_CHANGED = "account.role.changed"
# EPHEMERAL, not a table row: broadcast on the bus to every open stream when an admin changes the public
# settings (payload: the settings in camelCase). Frames carry no id; every new or resumed stream starts with
# one holding the current settings, so a page that was away re-reads them on reconnect.
PUBLIC_SETTINGS_UPDATED = "settings.public.updated"

ALL_EVENT_TYPES: frozenset[str] = frozenset(
    {
        CHAT_ITEM_UPDATED,
        CHAT_QUERY_STATE,
        NOTIFICATION_CREATED,
        ADMIN_SETTINGS_UPDATED,
        ADMIN_WAITLIST_UPDATED,
        ACCOUNT_STATUS_CHANGED,
        INVITATION_UPDATED,
        SESSION_REVOKED,
        ACCOUNT_ROLE_CHANGED,
    }
)

# Which prop of the browser's event bridge each type goes to (`EventStream` in chat3d/components/event_stream.py,
# whose `on_chat` is the JSX's `onChat`). A type not listed never reaches a page: `account.session.revoked`
# only ends the stream it names. The JSX reads this table from the generated assets/chat3d_event_types.js.
BRIDGE_PROPS: dict[str, str] = {
    CHAT_ITEM_UPDATED: "on_chat",
    CHAT_QUERY_STATE: "on_chat",
    NOTIFICATION_CREATED: "on_notification",
    ADMIN_SETTINGS_UPDATED: "on_admin",
    ADMIN_WAITLIST_UPDATED: "on_admin",
    ACCOUNT_STATUS_CHANGED: "on_account",
    INVITATION_UPDATED: "on_invitation",
    ACCOUNT_ROLE_CHANGED: "on_account",
    PUBLIC_SETTINGS_UPDATED: "on_settings",
}

# Types that count toward the unread badge and appear in the notification list.
UNREAD_BADGE_TYPES: frozenset[str] = frozenset({NOTIFICATION_CREATED})
