"""A webhook receiver for trying live segments: prints every delivery and checks its
signature. `python examples/webhook_receiver.py [PORT] [SECRET]` (default 9000, s3cret)."""

import hashlib
import hmac
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
SECRET = (sys.argv[2] if len(sys.argv) > 2 else "s3cret").encode()


class Hook(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's name)
        body = self.rfile.read(int(self.headers["content-length"]))
        expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
        good = hmac.compare_digest(self.headers.get("X-SegmentQL-Signature", ""), expected)
        print("signature ok" if good else "BAD SIGNATURE",
              json.dumps(json.loads(body), indent=1), flush=True)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", PORT), Hook).serve_forever()
