#!/usr/bin/env python3
"""webhook.py PORT FILE - a webhook receiver for the notification test:
appends each POSTed body to FILE, a line each, and answers 200; while a
file FILE.fail exists it answers 500 instead (and keeps nothing).  Listens
on 127.0.0.1 only."""
import http.server, os, sys


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if os.path.exists(sys.argv[2] + ".fail"):
            self.send_response(500)
        else:
            with open(sys.argv[2], "ab") as f:
                f.write(body.replace(b"\n", b" ") + b"\n")
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Hook).serve_forever()
