// One answer's thumbs (chat3d/components/chat_thread.py). They read the rating straight from the Reflex state
// store, selecting this answer's entry of RatingsState.ratings: every thumb pair listens to RatingsState, but
// useSyncExternalStore re-renders only a pair whose selected value changed. (A Reflex component reading the
// state would re-render on every change of the substate: with 100 answers on the page, 100 pairs per click.)
// Pressing a thumb calls `onRate(1 | -1)`, bound to RatingsState.rate for this answer.
import { useCallback, useContext, useRef, useSyncExternalStore } from "react";
import { IconButton } from "@radix-ui/themes";
import ThumbsUp from "lucide-react/dist/esm/icons/thumbs-up.mjs";
import ThumbsDown from "lucide-react/dist/esm/icons/thumbs-down.mjs";
import { StateStoreContext, app } from "$/utils/context-registry";

const FIELD = "ratings_rx_state_";

export function RatingThumbs({ itemId, stateName, onRate }) {
  const store = useContext(StateStoreContext);
  const subscribe = useCallback((listener) => store.subscribe(stateName, listener), [store, stateName]);
  const select = () => {
    const substate = store.getSnapshot(stateName) ?? app.initialState?.[stateName];
    return substate?.[FIELD]?.[itemId] || 0;
  };
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
