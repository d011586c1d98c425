// React hook over ws-bridge.js. The only file of the client that imports React: the plain
// module works without it.
//
//   const { state, resumeState, lastSeq, send } = useWebSocketBridge(url, {
//     getToken,
//     onMessage: ({ seq, message }) => appendLine(seq, message),
//     onResync: () => reloadState(),
//   });

import { useCallback, useEffect, useRef, useState } from "react";
import { WebSocketBridge } from "./ws-bridge.js";

/**
 * Connects while the component is mounted (and `url` is set); a new `url`, `auth` or
 * `query` reconnects. Options other than those are read when connecting, and callbacks
 * through a ref, so an inline object or callback does not reconnect on every render.
 */
export function useWebSocketBridge(url, options = {}) {
  const [state, setState] = useState("idle");
  const [resumeState, setResumeState] = useState("none");
  const [lastSeq, setLastSeq] = useState(0);
  const [lastMessage, setLastMessage] = useState(undefined);
  const [error, setError] = useState(undefined);
  const bridgeRef = useRef(null);
  const optionsRef = useRef(options);
  optionsRef.current = options;
  const auth = options.auth;
  const querySignature = JSON.stringify(options.query || {});

  useEffect(() => {
    if (!url) return undefined;
    const current = optionsRef.current;
    const bridge = new WebSocketBridge(url, {
      ...current,
      // Always the latest callback, without reconnecting when it changes identity.
      getToken:
        typeof current.getToken === "function" ? (request) => optionsRef.current.getToken(request) : undefined,
    });
    bridgeRef.current = bridge;
    const off = [
      bridge.on("state", (detail) => setState(detail.state)),
      bridge.on("resume", (detail) => setResumeState(detail.state)),
      bridge.on("message", (delivered) => {
        setLastSeq(delivered.seq);
        setLastMessage(delivered.message);
        optionsRef.current.onMessage?.(delivered);
      }),
      bridge.on("resync", (detail) => {
        setLastSeq(detail.lastSeq);
        optionsRef.current.onResync?.(detail);
      }),
      bridge.on("error", (err) => setError(err)),
    ];
    bridge.connect().catch(() => {}); // the failure shows as state "closed" and `error`
    return () => {
      off.forEach((unsubscribe) => unsubscribe());
      bridge.close(1000, "unmounted");
      if (bridgeRef.current === bridge) bridgeRef.current = null;
    };
  }, [url, auth, querySignature]);

  const send = useCallback((message, sendOptions) => {
    const bridge = bridgeRef.current;
    if (!bridge) return Promise.reject(new Error("not connected"));
    return bridge.send(message, sendOptions);
  }, []);

  const close = useCallback((code, reason) => bridgeRef.current?.close(code, reason), []);

  return { state, resumeState, lastSeq, lastMessage, error, send, close, bridge: bridgeRef.current };
}
