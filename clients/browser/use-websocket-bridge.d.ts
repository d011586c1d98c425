// Types of use-websocket-bridge.js, the optional React hook (needs react >= 16.8).
import type {
  BridgeError,
  BridgeEvents,
  BridgeOptions,
  ConnectionState,
  ResumeState,
  SendOptions,
  StreamMessage,
  WebSocketBridge,
} from "./ws-bridge.js";

export interface UseWebSocketBridgeOptions extends BridgeOptions {
  /** Called with each stream message, in seq order, once (its own replies included). */
  onMessage?: (delivered: StreamMessage) => void;
  /** The stream moved past the backend's buffer: reload the app's state. */
  onResync?: (detail: BridgeEvents["resync"]) => void;
}

export interface UseWebSocketBridgeResult {
  state: ConnectionState;
  /** "resumed" once the session is live; "resync_required" after a resync. */
  resumeState: ResumeState;
  /** The seq of the last message delivered. */
  lastSeq: number;
  /** The last stream message delivered. */
  lastMessage: unknown;
  /** The last error (a refused handshake, token_expired...). */
  error: BridgeError | undefined;
  send<Reply = Record<string, unknown>>(message: Record<string, unknown>, options?: SendOptions): Promise<Reply>;
  close(code?: number, reason?: string): void;
  /** The underlying client (null before the first connect and after unmount). */
  bridge: WebSocketBridge | null;
}

/** Connect to `url` while mounted; a falsy url stays idle. */
export declare function useWebSocketBridge(
  url: string | null | undefined,
  options?: UseWebSocketBridgeOptions,
): UseWebSocketBridgeResult;
