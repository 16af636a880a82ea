#!/usr/bin/env python3
"""browser.py - drives a headless chromium over the DevTools protocol, for
the console test, with nothing but the standard library.

  browser.py DEVTOOLS_PORT eval URL JS...   loads URL, then prints each JS
                                            expression's value, one a line
  browser.py DEVTOOLS_PORT wait JS TIMEOUT  evaluates JS on the loaded page
                                            until it is true (exit 0) or
                                            TIMEOUT seconds pass (exit 1)
  browser.py DEVTOOLS_PORT run JS...         prints each JS expression's
                                            value on the page as it is
  browser.py DEVTOOLS_PORT shot FILE [W H]  saves a PNG of the page

Talks only to 127.0.0.1."""
import base64, json, os, socket, struct, sys, time, urllib.request


class Page:
    def __init__(self, port):
        targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=5))
        page = [t for t in targets if t.get("type") == "page"][0]
        url = page["webSocketDebuggerUrl"]
        path = url.split("/", 3)[3]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(("GET /%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                           % (path, port, key)).encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        if b" 101 " not in head.split(b"\r\n")[0]:
            raise SystemExit("browser.py: no websocket: %r" % head[:80])
        self.next_id = 0

    def _send(self, text):
        data = text.encode()
        mask = os.urandom(4)
        n = len(data)
        hdr = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else
                               bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 else
                               bytes([0x80 | 127]) + struct.pack(">Q", n))
        self.sock.sendall(hdr + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _recv_exact(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise SystemExit("browser.py: the browser hung up")
            buf += chunk
        return buf

    def _recv(self):
        msg = b""
        while True:
            b0, b1 = self._recv_exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._recv_exact(8))[0]
            msg += self._recv_exact(n)
            if b0 & 0x80:
                return msg.decode()

    def call(self, method, **params):
        self.next_id += 1
        self._send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            reply = json.loads(self._recv())
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise SystemExit("browser.py: %s: %s" % (method, reply["error"]))
                return reply.get("result", {})

    def wait_event(self, name, timeout):
        end = time.time() + timeout
        while time.time() < end:
            self.sock.settimeout(max(0.1, end - time.time()))
            try:
                msg = json.loads(self._recv())
            except socket.timeout:
                break
            if msg.get("method") == name:
                self.sock.settimeout(10)
                return True
        self.sock.settimeout(10)
        return False

    def eval(self, js):
        r = self.call("Runtime.evaluate", expression=js, returnByValue=True)
        return r.get("result", {}).get("value")


def main():
    port, what = int(sys.argv[1]), sys.argv[2]
    page = Page(port)
    if what == "eval":
        page.call("Page.enable")
        page.call("Page.navigate", url=sys.argv[3])
        if not page.wait_event("Page.loadEventFired", 20):
            raise SystemExit("browser.py: %s did not load" % sys.argv[3])
        # the page's first fetch of the matrix, then its rendering
        end = time.time() + 20
        while time.time() < end and not page.eval("document.querySelector('tbody') !== null"):
            time.sleep(0.05)
        for js in sys.argv[4:]:
            print(page.eval(js))
    elif what == "run":
        for js in sys.argv[3:]:
            print(page.eval(js))
    elif what == "wait":
        end = time.time() + float(sys.argv[4])
        while time.time() < end:
            if page.eval(sys.argv[3]):
                return 0
            time.sleep(0.02)
        return 1
    elif what == "shot":
        w, h = (int(sys.argv[4]), int(sys.argv[5])) if len(sys.argv) > 5 else (1280, 800)
        page.call("Emulation.setDeviceMetricsOverride", width=w, height=h, deviceScaleFactor=1, mobile=False)
        time.sleep(0.3)
        png = page.call("Page.captureScreenshot", format="png")["data"]
        with open(sys.argv[3], "wb") as f:
            f.write(base64.b64decode(png))
    return 0


if __name__ == "__main__":
    sys.exit(main())
