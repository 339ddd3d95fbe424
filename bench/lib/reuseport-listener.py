"""One SO_REUSEPORT listener for bench/workers-balance.ts: what Node's `reusePort` (22.12+/23.1+)
would give each worker. N of these processes bind the same 127.0.0.1 port; the kernel picks
one listening socket per incoming connection by a hash of its 4-tuple. On accept it writes one
byte, "0" + its index, so the client knows which listener took the connection; it answers a
peer's end by closing and otherwise keeps the connection.

    python3 bench/lib/reuseport-listener.py INDEX PORT   (PORT 0: pick one, print it)

stdin commands, one per line: "pause" stops calling accept (connections then wait in this
socket's own accept queue), "close" closes the listening socket (a graceful reload's step),
"count" prints {"ev":"count",...}. Exits when stdin closes or after 10 minutes.
"""
import json
import os
import selectors
import signal
import socket
import sys

LIFETIME_S = 600


def say(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    index = int(sys.argv[1])
    port = int(sys.argv[2])
    signal.alarm(LIFETIME_S)  # default action of SIGALRM ends the process: bounded whatever happens
    mark = str(index).encode()

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(511)  # Node's default backlog
    listener.setblocking(False)

    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ, "listen")
    sel.register(sys.stdin, selectors.EVENT_READ, "stdin")
    accepted = 0
    open_conns = 0
    say({"ev": "ready", "port": listener.getsockname()[1], "pid": os.getpid()})

    while True:
        for key, _ in sel.select():
            if key.data == "listen":
                # Accept what is queued now, as libuv does, until the queue is empty.
                while True:
                    try:
                        conn, _ = listener.accept()
                    except BlockingIOError:
                        break
                    except ConnectionAbortedError:
                        continue  # reset by the peer while queued: nothing to serve
                    accepted += 1
                    open_conns += 1
                    conn.setblocking(False)
                    try:
                        conn.send(mark)
                    except OSError as err:
                        sys.stderr.write(f"listener {index}: send: {err}\n")
                    sel.register(conn, selectors.EVENT_READ, "conn")
            elif key.data == "stdin":
                line = sys.stdin.readline()
                if not line:
                    return
                cmd = line.strip()
                if cmd == "pause":
                    sel.unregister(listener)
                    say({"ev": "paused"})
                elif cmd == "close":
                    try:
                        sel.unregister(listener)
                    except KeyError:
                        pass  # already paused: unregistered then
                    listener.close()
                    say({"ev": "closed"})
                elif cmd == "count":
                    say({"ev": "count", "index": index, "accepted": accepted, "open": open_conns})
            else:
                conn = key.fileobj
                try:
                    data = conn.recv(4096)
                except ConnectionResetError:
                    data = b""
                if not data:  # the peer's end (or reset): close our side
                    sel.unregister(conn)
                    conn.close()
                    open_conns -= 1


if __name__ == "__main__":
    main()
