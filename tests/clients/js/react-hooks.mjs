// A minimal stand-in for React's hooks (useState, useRef, useCallback, useEffect) for one
// component, enough to run use-websocket-bridge.js under node: `render()` runs the hook,
// setState re-renders, effects run after a render when their dependencies change.
let current = null;

export function mount(hook, ...args) {
  const instance = { hook, args, slots: [], effects: [], result: undefined, renders: 0 };
  instance.render = () => {
    current = { instance, index: 0 };
    instance.result = hook(...instance.args);
    instance.renders += 1;
    current = null;
    for (const effect of instance.effects.splice(0)) effect();
  };
  instance.unmount = () => {
    for (const slot of instance.slots) if (slot && slot.cleanup) slot.cleanup();
  };
  instance.render();
  return instance;
}

function slot(initial) {
  const { instance } = current;
  const index = current.index++;
  if (!(index in instance.slots)) instance.slots[index] = initial();
  return { instance, value: instance.slots[index] };
}

export function useState(initial) {
  const { instance, value } = slot(() => ({ state: initial }));
  const set = (next) => {
    value.state = typeof next === "function" ? next(value.state) : next;
    queueMicrotask(() => instance.render());
  };
  return [value.state, set];
}

export function useRef(initial) {
  return slot(() => ({ current: initial })).value;
}

export function useCallback(callback) {
  return slot(() => ({ callback })).value.callback;
}

export function useEffect(effect, deps) {
  const { instance, value } = slot(() => ({ deps: undefined, cleanup: undefined }));
  const changed = !value.deps || deps.some((dep, i) => dep !== value.deps[i]);
  if (!changed) return;
  value.deps = deps;
  instance.effects.push(() => {
    if (value.cleanup) value.cleanup();
    value.cleanup = effect() || undefined;
  });
}
