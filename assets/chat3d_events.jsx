// The page's live connection: one EventSource on /api/events/stream (same origin, so the HttpOnly
// session cookie goes with it). The browser reconnects by itself and resends Last-Event-ID, so the
// server replays what was missed. Each event's JSON is handed to a Reflex event handler.
import { useEffect, useRef } from "react";

const TYPES = ["chat.item.updated", "chat.query.state"];

export function EventStream({ url, onEvent }) {
  const handler = useRef(onEvent);
  handler.current = onEvent;
  useEffect(() => {
    if (typeof window === "undefined" || !window.EventSource) return undefined;
    const source = new EventSource(url || "/api/events/stream", { withCredentials: true });
    const forward = (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch (e) {
        return;
      }
      if (handler.current) handler.current(data);
    };
    TYPES.forEach((t) => source.addEventListener(t, forward));
    return () => {
      TYPES.forEach((t) => source.removeEventListener(t, forward));
      source.close();
    };
  }, [url]);
  return null;
}

export default EventStream;
