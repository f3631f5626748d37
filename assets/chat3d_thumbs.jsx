// One answer's thumbs (chat3d/components/chat_thread.py), fed by a small store of the open chat's ratings.
// RatingsFeed, rendered once beside the thread, is the only component that reads RatingsState.ratings (a plain
// prop); it publishes the dict here, and each thumb pair selects its own answer's entry with
// useSyncExternalStore, so a rating re-renders that pair alone. (A Reflex component reading the state in every
// bubble would re-render on every change of the substate: with 100 answers on the page, 100 pairs per click.)
// Pressing a thumb calls `onRate(1 | -1)`, bound to RatingsState.rate for this answer.
import { useCallback, useLayoutEffect, useRef, useSyncExternalStore } from "react";
import { IconButton } from "@radix-ui/themes";
import ThumbsUp from "lucide-react/dist/esm/icons/thumbs-up.mjs";
import ThumbsDown from "lucide-react/dist/esm/icons/thumbs-down.mjs";

// The open chat's ratings (item id -> 1 | -1) as RatingsFeed last received them, and who listens.
let ratings = {};
const listeners = new Set();

function subscribe(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

// Reflex keeps an unchanged dict's identity across deltas, so the same object means nothing to tell.
function publish(next) {
  const value = next || {};
  if (value === ratings) return;
  ratings = value;
  listeners.forEach((listener) => listener());
}

// Renders nothing: hands RatingsState.ratings to the thumbs before the browser paints.
export function RatingsFeed({ ratings: next }) {
  useLayoutEffect(() => { publish(next); }, [next]);
  return null;
}

export function RatingThumbs({ itemId, onRate }) {
  const select = () => ratings[itemId] || 0;
  const rating = useSyncExternalStore(subscribe, select, select);
  const handler = useRef(onRate);
  handler.current = onRate;
  const rate = useCallback((value) => () => handler.current?.(value), []);
  return (
    <>
      <IconButton
        size="1"
        variant={rating === 1 ? "solid" : "ghost"}
        color={rating === 1 ? "green" : "gray"}
        aria-label="Good answer"
        aria-pressed={rating === 1 ? "true" : "false"}
        style={{ padding: "6px" }}
        onClick={rate(1)}
      >
        <ThumbsUp size={12} />
      </IconButton>
      <IconButton
        size="1"
        variant={rating === -1 ? "solid" : "ghost"}
        color={rating === -1 ? "red" : "gray"}
        aria-label="Bad answer"
        aria-pressed={rating === -1 ? "true" : "false"}
        style={{ padding: "6px" }}
        onClick={rate(-1)}
      >
        <ThumbsDown size={12} />
      </IconButton>
    </>
  );
}

export default RatingThumbs;
