// A stand-in WebSocket driven by a function that plays the server: `serve(socket, frame)`
// answers each frame the client sends (socket.deliver(frame) sends one back).
export function fakeWebSocket(serve, log = []) {
  return class FakeSocket {
    constructor(url, protocols) {
      this.url = url;
      this.protocols = protocols;
      this.readyState = 0;
      this.protocol = "";
      log.push(this);
      setTimeout(() => {
        this.readyState = 1;
        this.protocol = protocols ? "bearer" : "";
        this.onopen?.();
      }, 1);
    }
    send(text) {
      const frame = JSON.parse(text);
      setTimeout(() => serve(this, frame), 1);
    }
    deliver(frame) {
      if (this.readyState === 1) this.onmessage?.({ data: JSON.stringify(frame) });
    }
    close(code = 1000, reason = "") {
      if (this.readyState > 1) return;
      this.readyState = 3;
      setTimeout(() => this.onclose?.({ code, reason }), 1);
    }
  };
}
