"""The protected app of the proxy tests: answers every GET with 200 and the
request's headers, one "name: value" line each (names lower-cased), so a
test can see what the proxy let through.
Usage: echo_app.py ADDR PORT"""
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    def do_GET(self):
        body = "".join("%s: %s\n" % (k.lower(), v) for k, v in self.headers.items())
        data = ("app\n" + body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Echo).serve_forever()
