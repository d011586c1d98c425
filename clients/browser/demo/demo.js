// The demo page: the browser client against the local stack. The page's server
// (wslocal.browser_demo) says where the stack is and mints development tokens.
import { WebSocketBridge } from "/client/ws-bridge.js";

const $ = (id) => document.getElementById(id);
let bridge = null;
let connectionId = null;
let config = null;

function log(kind, text) {
  const item = document.createElement("li");
  item.className = kind;
  item.textContent = `${new Date().toISOString().slice(11, 23)} ${kind.padEnd(6)} ${text}`;
  $("log").prepend(item);
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`${path}: ${response.status} ${answer.error || ""}`);
  return answer;
}

async function getToken({ reason }) {
  const { token } = await post("/api/token", {
    sub: $("user").value,
    session: $("session").value || null,
    ttlSeconds: Number($("ttl").value),
  });
  log("token", `new token (${reason})`);
  return token;
}

function showState({ state, reason, attempt, delayMs }) {
  const badge = $("state");
  badge.textContent = state;
  badge.dataset.state = state;
  badge.className = `state state-${state}`;
  $("attempt").textContent = String(attempt);
  const extra = [reason, delayMs !== undefined ? `retry in ${Math.round(delayMs)} ms` : ""];
  log("state", [state, ...extra].filter(Boolean).join(" · "));
}

async function learnConnectionId() {
  // The reference backend echoes the connection's ids in its replies.
  const reply = await bridge.send({ type: "resize", cols: 120, rows: 32 });
  connectionId = reply.connectionId;
  $("connection-id").textContent = connectionId;
}

async function connect(event) {
  event?.preventDefault();
  bridge?.close(1000, "reconnect from the page");
  connectionId = null;
  $("connection-id").textContent = "–";
  bridge = new WebSocketBridge(config.wsUrl, {
    getToken,
    auth: $("auth").value,
    keepaliveMs: Number($("keepalive").value) * 1000,
    backoff: { baseMs: 500, maxMs: 8000 },
  });
  bridge.on("state", showState);
  bridge.on("open", ({ protocol, reconnected }) => {
    $("protocol").textContent = protocol || "(none)";
    log("open", `${reconnected ? "reconnected" : "connected"}, subprotocol "${protocol}"`);
    learnConnectionId().catch((error) => log("error", String(error.message)));
  });
  bridge.on("close", ({ code, wasOpen, willReconnect }) =>
    log("close", `code ${code}${wasOpen ? "" : " before open"}${willReconnect ? ", reconnecting" : ""}`),
  );
  bridge.on("push", (message) => log("push", JSON.stringify(message)));
  bridge.on("keepalive", () => log("ping", "keepalive answered"));
  bridge.on("error", (error) => log("error", `${error.code}: ${error.message}`));
  try {
    await bridge.connect();
  } catch (error) {
    log("error", `connect failed: ${error.code}`);
  }
}

async function request(message) {
  if (!bridge) return;
  try {
    const reply = await bridge.send(message);
    $("reply").textContent = JSON.stringify(reply);
    log("reply", JSON.stringify(reply));
  } catch (error) {
    log("error", `${error.code}: ${error.message}`);
  }
}

async function main() {
  config = await (await fetch("/api/config")).json();
  $("ws-url").textContent = `stage URL ${config.wsUrl}`;
  $("connect-form").addEventListener("submit", connect);
  $("disconnect").addEventListener("click", () => bridge?.close(1000, "closed from the page"));
  $("ping").addEventListener("click", () => request({ type: "ping" }));
  $("send-command").addEventListener("click", () =>
    request({ type: "command", command: $("command").value }),
  );
  $("push").addEventListener("click", async () => {
    const message = { type: "push", event: "notice", text: "hello from the backend", at: Date.now() };
    try {
      const result = await post("/api/push", { session: $("session").value, message });
      log("sent", `backend push: ${JSON.stringify(result)}`);
    } catch (error) {
      log("error", String(error.message));
    }
  });
  $("drop").addEventListener("click", async () => {
    if (!connectionId) return log("error", "no connection id yet");
    try {
      await post("/api/drop", { connectionId });
      log("sent", `DELETE @connections/${connectionId}`);
    } catch (error) {
      log("error", String(error.message));
    }
  });
  document.body.dataset.ready = "true";
  if (new URLSearchParams(location.search).has("connect")) connect();
}

main();
