"""A slow TCP sink for the Direct Sockets tests (support/slow-tcp-sink.ts).

Listens on 127.0.0.1 with a 2 KiB receive buffer, so that a client's data
backs up into its own buffers soon. Prints {"port": N}, then for each line
"PAUSE_MS TOTAL [IDLE_MS]" on stdin accepts one connection, reads nothing for
PAUSE_MS, then reads until TOTAL bytes came or nothing came for IDLE_MS
(3000 by default), checks
that byte i is i % 251, and prints {"received": N, "badAt": I} (I = -1 when
every byte was right). Exits when stdin closes.
"""
import json
import select
import socket
import sys
import time

server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
server.bind(("127.0.0.1", 0))
server.listen(8)
print(json.dumps({"port": server.getsockname()[1]}), flush=True)
for line in sys.stdin:
    words = [int(word) for word in line.split()]
    pause_ms, total = words[0], words[1]
    idle_s = (words[2] if len(words) > 2 else 3000) / 1000
    connection, _ = server.accept()
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
    time.sleep(pause_ms / 1000)
    received, bad_at = 0, -1
    while received < total:
        readable, _, _ = select.select([connection], [], [], idle_s)
        if not readable:
            break
        data = connection.recv(1 << 20)
        if not data:
            break
        if bad_at < 0:
            for i, byte in enumerate(data):
                if byte != (received + i) % 251:
                    bad_at = received + i
                    break
        received += len(data)
    connection.close()
    print(json.dumps({"received": received, "badAt": bad_at}), flush=True)
