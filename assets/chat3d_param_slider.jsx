// A parameter slider: Radix's Slider primitive dressed in Radix Themes' slider classes (it looks like
// rx.slider), with the accessible name on the thumb, the element that has role="slider". rx.slider puts
// aria-label on the root only, so screen readers announced an unnamed slider.
// Keyboard: arrows move one step, Page Up/Down and Shift+arrows ten, Home/End to the ends.
// It follows `value` (a number typed in the row's field, a preview's value) except while a pointer drags it.
import React, { useEffect, useRef, useState } from "react";
import { Slider } from "radix-ui";

export function ParamSlider({ label, className, value, onValueChange, onValueCommit, ...rest }) {
  const [local, setLocal] = useState([Number(value)]);
  const dragging = useRef(false);
  useEffect(() => {
    if (!dragging.current) setLocal([Number(value)]);
  }, [value]);
  const startDrag = () => {
    dragging.current = true;
    window.addEventListener("pointerup", () => { dragging.current = false; }, { once: true });
  };
  return (
    <Slider.Root
      {...rest}
      value={local}
      onPointerDown={startDrag}
      onValueChange={(v) => { setLocal(v); if (onValueChange) onValueChange(v); }}
      onValueCommit={(v) => { if (onValueCommit) onValueCommit(v); }}
      className={["rt-SliderRoot", "rt-r-size-1", "rt-variant-surface", className].filter(Boolean).join(" ")}
    >
      <Slider.Track className="rt-SliderTrack">
        <Slider.Range className="rt-SliderRange" />
      </Slider.Track>
      <Slider.Thumb className="rt-SliderThumb" aria-label={label} />
    </Slider.Root>
  );
}

export default ParamSlider;
