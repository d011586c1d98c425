// The page's network and visibility, for the client's reconnects: while the browser is
// offline or the tab hidden, reconnect attempts wait; when it is back, `onBack` runs (the
// client then pings an open connection or reconnects now). Outside a browser: never paused.

/**
 * @param {object} page what holds `navigator`, `document` and `addEventListener` (the
 *   window by default; a stand-in in tests)
 * @param {() => void} onBack
 * @returns {{ paused(): boolean, stop(): void }}
 */
export function watchPage(page, onBack) {
  const navigator = page?.navigator;
  const document = page?.document;
  const offline = () => navigator?.onLine === false;
  const hidden = () => document?.visibilityState === "hidden";
  const online = () => {
    if (!hidden()) onBack();
  };
  const visibility = () => {
    if (!hidden() && !offline()) onBack();
  };
  page?.addEventListener?.("online", online);
  document?.addEventListener?.("visibilitychange", visibility);
  return {
    paused: () => offline() || hidden(),
    stop() {
      page?.removeEventListener?.("online", online);
      document?.removeEventListener?.("visibilitychange", visibility);
    },
  };
}
