// Types of use-websocket-bridge.js, the optional React hook (needs react >= 16.8).
import type {
  BridgeError,
  BridgeOptions,
  ConnectionState,
  SendOptions,
  WebSocketBridge,
} from "./ws-bridge.js";

export interface UseWebSocketBridgeOptions extends BridgeOptions {
  /** Called with each message that answers no request. */
  onPush?: (message: unknown) => void;
}

export interface UseWebSocketBridgeResult {
  state: ConnectionState;
  /** The last message received (reply or push). */
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
