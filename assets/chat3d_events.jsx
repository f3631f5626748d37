// The tab's one live connection: an EventSource on /api/events/stream (same origin, so the HttpOnly
// session cookie goes with it), mounted by the signed-in app shell. Each event's JSON goes to the Reflex
// handler for its group (a prop per group); events of a group without a handler are dropped.
//
// One connection per tab and user, kept across page changes. Every page has its own app shell, so a
// page change unmounts this component and mounts it again; a new EventSource would start at "now" and
// lose what was recorded in between (an answer finishing while the browser moves to its chat). Instead
// the connection outlives the unmount for CLOSE_AFTER_UNMOUNT_MS, holds the events that arrive meanwhile,
// and hands them to the next mount of the same user; a different user (`streamKey`) gets a new one.
//
// The browser reconnects by itself and resends Last-Event-ID (the server's first frame carries the
// starting cursor), so the server replays what was missed. `onClosed` fires when the browser gives up
// (the server refused the stream: signed out, session revoked, account deactivated, or the app was
// down); the connection then tries again after a pause, after the last event it delivered.
//
// The event names and the routing table (event type -> the prop of its group's handler) come from
// chat3d_event_types.js, generated from chat3d/events/types.py: no event name is spelled here.
import { useEffect, useRef } from "react";
import { EVENT, ROUTES } from "./chat3d_event_types.js";

const RETRY_AFTER_CLOSE_MS = 15000;
const CLOSE_AFTER_UNMOUNT_MS = 5000;
const MAX_HELD = 500;

let shared = null; // the tab's connection: { url, key, handlers, held, ... }

function withCursor(url, lastId) {
  if (!lastId) return url;
  return url + (url.includes("?") ? "&" : "?") + "lastEventId=" + encodeURIComponent(lastId);
}

function openConnection(url, key) {
  const conn = { url, key, handlers: null, held: [], lastId: "", source: null, retry: null, closeTimer: null, closed: false };
  const deliver = (data) => {
    const handler = conn.handlers && conn.handlers.current[ROUTES[data.type]];
    if (handler) handler(data);
  };
  const forward = (message) => {
    let data;
    try {
      data = JSON.parse(message.data);
    } catch (e) {
      return;
    }
    if (!data || !ROUTES[data.type]) return;
    if (message.lastEventId) conn.lastId = message.lastEventId;
    if (conn.handlers) deliver(data);
    else if (conn.held.length < MAX_HELD) conn.held.push(data);
  };
  const connect = () => {
    const source = new EventSource(withCursor(url, conn.lastId), { withCredentials: true });
    Object.keys(ROUTES).forEach((t) => source.addEventListener(t, forward));
    // Public-settings broadcasts are not stored: after any reconnect the page re-reads the settings.
    source.addEventListener("open", () => {
      if (conn.opened && conn.handlers) deliver({ type: EVENT.PUBLIC_SETTINGS_UPDATED, payload: null, reconnected: true });
      conn.opened = true;
    });
    source.addEventListener("error", () => {
      if (source.readyState !== EventSource.CLOSED || conn.retry !== null || conn.closed) return;
      const onClosed = conn.handlers && conn.handlers.current.onClosed;
      if (onClosed) onClosed({});
      conn.retry = window.setTimeout(() => {
        conn.retry = null;
        if (!conn.closed) connect();
      }, RETRY_AFTER_CLOSE_MS);
    });
    conn.source = source;
  };
  conn.attach = (handlers) => {
    if (conn.closeTimer !== null) window.clearTimeout(conn.closeTimer);
    conn.closeTimer = null;
    conn.handlers = handlers;
    const held = conn.held;
    conn.held = [];
    held.forEach(deliver);
  };
  conn.detach = (handlers) => {
    if (conn.handlers !== handlers) return; // the next page's shell has it already
    conn.handlers = null;
    conn.closeTimer = window.setTimeout(conn.close, CLOSE_AFTER_UNMOUNT_MS);
  };
  conn.close = () => {
    conn.closed = true;
    if (conn.retry !== null) window.clearTimeout(conn.retry);
    if (conn.closeTimer !== null) window.clearTimeout(conn.closeTimer);
    conn.source.close();
    if (shared === conn) shared = null;
  };
  connect();
  return conn;
}

export function EventStream(props) {
  const handlers = useRef(props);
  handlers.current = props;
  const url = props.url || "/api/events/stream";
  const key = props.streamKey || "";
  useEffect(() => {
    if (typeof window === "undefined" || !window.EventSource) return undefined;
    if (shared && (shared.url !== url || shared.key !== key)) shared.close();
    if (!shared) shared = openConnection(url, key);
    const conn = shared;
    conn.attach(handlers);
    return () => conn.detach(handlers);
  }, [url, key]);
  return null;
}

export default EventStream;
