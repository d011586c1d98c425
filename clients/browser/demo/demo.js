// The demo page: a terminal over the browser client, against the local stack. The page's
// server (wslocal.browser_demo) says where the stack is, mints development tokens, pushes
// through the backend and drops connections through the gateway's fault endpoint.
import { WebSocketBridge } from "/client/ws-bridge.js";

const $ = (id) => document.getElementById(id);
let bridge = null;
let config = null;

function log(kind, text) {
  const item = document.createElement("li");
  item.className = kind;
  item.textContent = `${new Date().toISOString().slice(11, 23)} ${kind.padEnd(6)} ${text}`;
  $("log").prepend(item);
}

/** One delivered stream message as a terminal line, with its seq. */
function print(seq, message) {
  const line = document.createElement("li");
  line.dataset.seq = String(seq);
  const text =
    message.type === "command_result"
      ? `$ ${message.command}\n${message.result?.output ?? message.output ?? ""}`
      : message.type === "output" || message.type === "push"
        ? String(message.text ?? message.line ?? "")
        : JSON.stringify(message);
  const number = document.createElement("span");
  number.className = "seq";
  number.textContent = String(seq);
  const body = document.createElement("span");
  body.textContent = text;
  line.append(number, body);
  $("terminal").append(line);
  line.scrollIntoView({ block: "nearest" });
  $("last-seq").textContent = String(seq);
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

function connect(event) {
  event?.preventDefault();
  bridge?.close(1000, "reconnect from the page");
  bridge = new WebSocketBridge(config.wsUrl, {
    getToken,
    auth: $("auth").value,
    keepaliveMs: Number($("keepalive").value) * 1000,
    backoff: { baseMs: 500, maxMs: 8000 },
  });
  let opened = 0;
  bridge.on("state", showState);
  bridge.on("message", ({ seq, message }) => print(seq, message));
  bridge.on("resume", ({ state, lastSeq, headSeq }) => {
    $("resume").textContent = state;
    $("resume").dataset.resume = state;
    $("attempt").textContent = String(bridge.attempt);
    log("resume", `${state} (last seq ${lastSeq}, head ${headSeq})`);
  });
  bridge.on("resync", ({ headSeq }) => log("resync", `the stream moved past the buffer: from ${headSeq}`));
  bridge.on("open", ({ protocol, reconnected, rollover }) => {
    $("protocol").textContent = protocol || "(none)";
    $("connections").textContent = String(++opened);
    log("open", `${rollover ? "rollover connection" : reconnected ? "reconnected" : "connected"}, subprotocol "${protocol}"`);
  });
  bridge.on("close", ({ code, wasOpen, willReconnect }) =>
    log("close", `code ${code}${wasOpen ? "" : " before open"}${willReconnect ? ", reconnecting" : ""}`),
  );
  bridge.on("rollover", ({ phase }) => log("roll", phase));
  bridge.on("error", (error) => log("error", `${error.code}: ${error.message}`));
  bridge.connect().catch((error) => log("error", `connect failed: ${error.code}`));
}

async function run(event) {
  event.preventDefault();
  if (!bridge) return;
  try {
    await bridge.send({ type: "command", command: $("command").value }); // printed on delivery
  } catch (error) {
    log("error", `${error.code}: ${error.message}`);
  }
}

async function act(path, body, what) {
  try {
    log("sent", `${what}: ${JSON.stringify(await post(path, body))}`);
  } catch (error) {
    log("error", String(error.message));
  }
}

async function main() {
  config = await (await fetch("/api/config")).json();
  $("ws-url").textContent = `stage URL ${config.wsUrl}`;
  $("connect-form").addEventListener("submit", connect);
  $("command-form").addEventListener("submit", run);
  $("disconnect").addEventListener("click", () => bridge?.close(1000, "closed from the page"));
  $("ping").addEventListener("click", () =>
    bridge?.ping().then(() => log("ping", "pong"), (error) => log("error", `ping: ${error.code}`)),
  );
  let pushed = 0;
  $("push").addEventListener("click", () => {
    const message = { type: "push", event: "notice", text: `hello from the backend #${++pushed}` };
    act("/api/push", { session: $("session").value, message }, "backend push");
  });
  $("drop").addEventListener("click", () => act("/api/drop", { session: $("session").value }, "dropped"));
  document.body.dataset.ready = "true";
  if (new URLSearchParams(location.search).has("connect")) connect();
}

main();
