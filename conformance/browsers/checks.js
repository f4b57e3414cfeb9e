// The checks each browser runs inside examples/console.html (added to the page by
// drive.mjs): real WebSockets of the browser against wshd's example handlers, and one
// exchange through the console's own controls. `wshdChecks(origin)` resolves to a list
// of {name, ok, detail}; it never rejects, so every check reports.
"use strict";

(function () {
  const TIMEOUT_MS = 30000;

  /** Rejects after TIMEOUT_MS with `what`, else settles as `promise`. */
  function within(what, promise) {
    return Promise.race([
      promise,
      new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), TIMEOUT_MS)),
    ]);
  }

  /** Opens a WebSocket; resolves once open, rejects on a close before that. */
  function open(url, protocols) {
    return within(`opening ${url}`, new Promise((resolve, reject) => {
      const ws = protocols ? new WebSocket(url, protocols) : new WebSocket(url);
      ws.binaryType = "arraybuffer";
      ws.onopen = () => resolve(ws);
      ws.onclose = (e) => reject(new Error(`closed before open: code ${e.code}`));
    }));
  }

  /** The next `count` messages. */
  function next(ws, count = 1) {
    return within(`${count} message(s)`, new Promise((resolve, reject) => {
      const got = [];
      ws.onmessage = (e) => {
        got.push(e.data);
        if (got.length === count) resolve(count === 1 ? got[0] : got);
      };
      ws.onclose = (e) => reject(new Error(`closed after ${got.length} of ${count}: code ${e.code}`));
    }));
  }

  /** The close event, as {code, reason, wasClean}. */
  function closed(ws) {
    return within("the close event", new Promise((resolve) => {
      ws.onclose = (e) => resolve({ code: e.code, reason: e.reason, wasClean: e.wasClean });
    }));
  }

  function sameBytes(a, b) {
    const x = new Uint8Array(a), y = new Uint8Array(b);
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }

  function expect(condition, detail) {
    if (!condition) throw new Error(detail);
  }

  function checks(base) {
    return [
      ["subprotocol chosen", async () => {
        const ws = await open(`${base}/echo`, ["chat", "superchat"]);
        expect(ws.protocol === "chat", `protocol ${JSON.stringify(ws.protocol)}`);
        ws.close();
        return `offered chat, superchat; got ${ws.protocol}`;
      }],
      ["text echo", async () => {
        const ws = await open(`${base}/echo`);
        const text = "héllo wshd, 日本 ✓";
        ws.send(text);
        const back = await next(ws);
        expect(back === text, `got ${JSON.stringify(back)}`);
        ws.close();
        return "UTF-8 text round trip";
      }],
      ["binary echo 1 B to 16 MiB", async () => {
        const ws = await open(`${base}/echo`);
        const sizes = [1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];
        for (const size of sizes) {
          const bytes = new Uint8Array(size);
          for (let i = 0; i < size; i++) bytes[i] = (i * 31 + size) & 0xff;
          ws.send(bytes);
          const back = await next(ws);
          expect(back instanceof ArrayBuffer && sameBytes(back, bytes.buffer), `${size} bytes differ`);
        }
        ws.close();
        return `sizes ${sizes.join(", ")}`;
      }],
      ["permessage-deflate negotiated", async () => {
        const ws = await open(`${base}/echo`);
        expect(ws.extensions.startsWith("permessage-deflate"), `extensions ${JSON.stringify(ws.extensions)}`);
        const text = "compressible ".repeat(10000);
        ws.send(text);
        expect(await next(ws) === text, "the compressed echo differs");
        ws.close();
        return `extensions "${ws.extensions}"`;
      }],
      ["server close 1000 after Goodbye", async () => {
        const ws = await open(`${base}/echo`);
        ws.send("Goodbye");
        expect(await next(ws) === "Goodbye", "no Goodbye echoed");
        const c = await closed(ws);
        expect(c.code === 1000 && c.wasClean, `close ${JSON.stringify(c)}`);
        return `code ${c.code}, wasClean ${c.wasClean}`;
      }],
      ["client close 3000 with its reason echoed", async () => {
        const ws = await open(`${base}/close`);
        const done = closed(ws);
        ws.close(3000, "see you");
        const c = await done;
        expect(c.code === 3000 && c.reason === "see you" && c.wasClean, `close ${JSON.stringify(c)}`);
        return `code ${c.code}, reason "${c.reason}", wasClean ${c.wasClean}`;
      }],
      ["handler exception 1011", async () => {
        const ws = await open(`${base}/internal_error`);
        const c = await closed(ws);
        expect(c.code === 1011, `close ${JSON.stringify(c)}`);
        return `code ${c.code}`;
      }],
      ["1,000 messages in flight", async () => {
        const ws = await open(`${base}/echo`);
        const all = next(ws, 1000);
        for (let i = 0; i < 1000; i++) ws.send(`message ${i}`);
        const got = await all;
        got.forEach((m, i) => expect(m === `message ${i}`, `echo ${i} is ${JSON.stringify(m)}`));
        ws.close();
        return "all echoed, in order";
      }],
      ["the console page's own controls", async () => {
        const c = window.wshdConsole;
        const log = () => document.getElementById("log").textContent;
        const until = (needle) => within(`"${needle}" in the log`, new Promise((resolve) => {
          const poll = () => (log().includes(needle) ? resolve() : setTimeout(poll, 20));
          poll();
        }));
        document.getElementById("protocols").value = "chat";
        document.getElementById("connect").click();
        await until("open: subprotocol \"chat\"");
        c.sendText("Hello from the console");
        await until("received: Hello from the console");
        c.sendBinary("bytes");
        await until("received binary, 5 bytes");
        c.close(1000, "done");
        // The echo handler answers a close with 1000 and no reason.
        await until("close: code 1000");
        expect(log().includes("wasClean true"), `log: ${log()}`);
        return "connect, text, binary and close shown in its log";
      }],
    ];
  }

  window.wshdChecks = async function (base) {
    const results = [];
    for (const [name, run] of checks(base)) {
      try {
        results.push({ name, ok: true, detail: await run() });
      } catch (e) {
        results.push({ name, ok: false, detail: e.message });
      }
    }
    return results;
  };
})();
