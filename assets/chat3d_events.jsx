// The tab's one live connection, mounted once by the signed-in app shell: an EventSource on
// /api/events/stream (same origin, so the HttpOnly session cookie goes with it). The browser reconnects
// by itself and resends Last-Event-ID, so the server replays what was missed. Each event's JSON goes to
// the Reflex handler for its group (a prop per group); events of a group without a handler are dropped.
// `onClosed` fires when the browser gives up (the server refused the stream: signed out, session revoked,
// account deactivated, or the app was down); the component then tries a fresh connection after a pause
// (a new EventSource has no Last-Event-ID: pages re-read their state on load anyway).
import { useEffect, useRef, useState } from "react";

const RETRY_AFTER_CLOSE_MS = 15000;

const ROUTES = {
  "chat.item.updated": "onChat",
  "chat.query.state": "onChat",
  "notification.created": "onNotification",
  "admin.settings.updated": "onAdmin",
  "admin.waitlist.updated": "onAdmin",
  "account.status.changed": "onAccount",
};

export function EventStream(props) {
  const handlers = useRef(props);
  handlers.current = props;
  const url = props.url || "/api/events/stream";
  const [generation, setGeneration] = useState(0);
  useEffect(() => {
    if (typeof window === "undefined" || !window.EventSource) return undefined;
    const source = new EventSource(url, { withCredentials: true });
    const forward = (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      const handler = handlers.current[ROUTES[data && data.type]];
      if (handler) handler(data);
    };
    let retry = null;
    const failed = () => {
      if (source.readyState !== EventSource.CLOSED || retry !== null) return;
      if (handlers.current.onClosed) handlers.current.onClosed({});
      retry = window.setTimeout(() => setGeneration((g) => g + 1), RETRY_AFTER_CLOSE_MS);
    };
    const types = Object.keys(ROUTES);
    types.forEach((t) => source.addEventListener(t, forward));
    source.addEventListener("error", failed);
    return () => {
      types.forEach((t) => source.removeEventListener(t, forward));
      source.removeEventListener("error", failed);
      if (retry !== null) window.clearTimeout(retry);
      source.close();
    };
  }, [url, generation]);
  return null;
}

export default EventStream;
