import http.server, sys
status = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        n = int(self.headers.get("content-length", 0)); body = self.rfile.read(n)
        sys.stderr.write("got %r ct=%s host=%s check=%s\n" % (body, self.headers["content-type"], self.headers["host"], self.headers["grpc-ingress-check"]))
        if status == "trailers-only":
            self.send_response(200); self.send_header("content-type","application/grpc-web+proto"); self.send_header("grpc-status","12"); self.send_header("content-length","0"); self.end_headers(); return
        msg = b"\x08\x01"; tr = ("grpc-status:%s\r\ngrpc-message:\r\n" % status).encode()
        out = b"\x00" + len(msg).to_bytes(4,"big") + msg + b"\x80" + len(tr).to_bytes(4,"big") + tr
        self.send_response(200); self.send_header("content-type","application/grpc-web+proto"); self.send_header("content-length",str(len(out))); self.end_headers(); self.wfile.write(out)
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
