"""A small IMAP4rev1 server over TLS on 127.0.0.1, for testing the mailbox connector.

It speaks just what a reading client needs (CAPABILITY, LOGIN, SELECT/EXAMINE,
UID SEARCH, UID FETCH, NOOP, LOGOUT), from a list of raw messages, with a
certificate from a throwaway CA (trustme). It records the commands it got.
"""
from __future__ import annotations

import re
import socketserver
import ssl
import threading
from dataclasses import dataclass, field


@dataclass
class Mailbox:
    username: str = "watch@example.org"
    password: str = "mail-pass"
    uidvalidity: int = 42
    messages: list[tuple[int, bytes]] = field(default_factory=list)  # (uid, raw)
    commands: list[str] = field(default_factory=list)
    next_uid: int = 1

    def add(self, raw: bytes) -> int:
        uid = self.next_uid
        self.next_uid += 1
        self.messages.append((uid, raw))
        return uid


def _handler(box: Mailbox):
    class Handler(socketserver.StreamRequestHandler):
        def send(self, line: str | bytes) -> None:
            self.wfile.write(line if isinstance(line, bytes) else line.encode())

        def handle(self) -> None:
            self.send("* OK [CAPABILITY IMAP4rev1] test server ready\r\n")
            authed = False
            while True:
                line = self.rfile.readline()
                if not line:
                    return
                text = line.decode().rstrip("\r\n")
                tag, _, rest = text.partition(" ")
                cmd, _, args = rest.partition(" ")
                cmd = cmd.upper()
                box.commands.append(cmd if cmd != "UID" else "UID " + args.split(" ")[0].upper())
                if cmd == "CAPABILITY":
                    self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" f"{tag} OK done\r\n")
                elif cmd == "LOGIN":
                    user, password = [p.strip('"') for p in args.split(" ", 1)]
                    if (user, password) == (box.username, box.password):
                        authed = True
                        self.send(f"{tag} OK logged in\r\n")
                    else:
                        self.send(f"{tag} NO [AUTHENTICATIONFAILED] invalid credentials\r\n")
                elif cmd in ("SELECT", "EXAMINE") and authed:
                    if args.strip('"').upper() != "INBOX":
                        self.send(f"{tag} NO no such mailbox\r\n")
                        continue
                    self.send(f"* {len(box.messages)} EXISTS\r\n* OK [UIDVALIDITY {box.uidvalidity}] ok\r\n"
                              f"{tag} OK [READ-ONLY] done\r\n")
                elif cmd == "UID" and authed:
                    sub, _, spec = args.partition(" ")
                    if sub.upper() == "SEARCH":
                        m = re.search(r"UID (\d+):\*", spec)
                        low = int(m.group(1)) if m else 1
                        uids = [u for u, _ in box.messages if u >= low] or [u for u, _ in box.messages[-1:]]
                        self.send(f"* SEARCH {' '.join(map(str, uids))}\r\n{tag} OK done\r\n")
                    elif sub.upper() == "FETCH":
                        uid = int(spec.split(" ")[0])
                        for n, (u, raw) in enumerate(box.messages, 1):
                            if u == uid:
                                self.send(f"* {n} FETCH (UID {u} BODY[] {{{len(raw)}}}\r\n".encode() + raw + b")\r\n")
                        self.send(f"{tag} OK done\r\n")
                    else:
                        self.send(f"{tag} BAD unsupported\r\n")
                elif cmd == "NOOP":
                    self.send(f"{tag} OK done\r\n")
                elif cmd == "LOGOUT":
                    self.send(f"* BYE\r\n{tag} OK bye\r\n")
                    return
                else:
                    self.send(f"{tag} BAD not supported here\r\n")

    return Handler


class TLSServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, box: Mailbox, context: ssl.SSLContext):
        super().__init__(("127.0.0.1", 0), _handler(box))
        self.context = context

    def get_request(self):
        sock, addr = super().get_request()
        return self.context.wrap_socket(sock, server_side=True), addr


def serve(box: Mailbox, context: ssl.SSLContext) -> tuple[TLSServer, int]:
    server = TLSServer(box, context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]
