"""Interop peer: a Python websockets 10.4 server (legacy asyncio API).

Run with /usr/bin/python3 (Debian's python3-websockets). Usage:

    python-server.py [--max-size N] [--subprotocol NAME ...]

Listens on 127.0.0.1 port 0 and prints {"port": N} as its first stdout line.
One process serves a whole test file: the request path selects what each
connection does, so tests don't pay for a Python start-up each. Every
connection carries ?id=... and, once closed, prints a JSON line with that id
and the close frames seen, because after the close the test can't ask the
peer anything over the WebSocket.

Paths:
    /echo                       echo every message (reassembled)
    /send-size?n=N&type=T       send one message of N bytes (T: text|binary), then echo
    /fragments                  send a fragmented text and binary message, then echo
    /close?code=C&reason=R      close with code C and reason R
    /ping                       ping, wait for the pong, send "got pong", then echo
    /invalid-utf8               send a text frame that isn't UTF-8, then echo
    /subprotocol                send the negotiated subprotocol (or "null"), then echo
    /reject                     answer 403 with a body instead of 101

Any path takes ?max_size=N to limit incoming messages on that connection.
Exits when stdin closes (the test runner died) or after 5 minutes.
"""

import asyncio
import http
import json
import os
import sys
import threading
from urllib.parse import parse_qs, urlsplit

import websockets

REJECT_BODY = b"forbidden by the interop test\n"


def emit(**fields):
    print(json.dumps(fields), flush=True)


def close_info(close):
    return None if close is None else [close.code, close.reason]


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def handler(ws):
    url = urlsplit(ws.path)
    query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
    if "max_size" in query:
        ws.max_size = int(query["max_size"])
    mode = url.path
    try:
        if mode == "/echo":
            await echo(ws)
        elif mode == "/send-size":
            n = int(query["n"])
            await ws.send("x" * n if query.get("type") == "text" else b"\x5a" * n)
            await echo(ws)
        elif mode == "/fragments":
            await ws.send(["frag", "ment", "ed \u2603"])
            await ws.send([b"\x00\x01", b"", b"\x02\xff"])
            await echo(ws)
        elif mode == "/close":
            await ws.close(int(query["code"]), query.get("reason", ""))
        elif mode == "/ping":
            waiter = await ws.ping(b"py-ping")
            await asyncio.wait_for(waiter, 5)
            await ws.send("got pong")
            await echo(ws)
        elif mode == "/invalid-utf8":
            await ws.write_frame(True, 0x1, b"\xce\xba\xff")
            await echo(ws)
        elif mode == "/subprotocol":
            await ws.send(ws.subprotocol or "null")
            await echo(ws)
        else:
            await ws.close(1008, f"unknown mode {mode}")
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    emit(
        event="closed",
        id=query.get("id"),
        code=ws.close_code,
        reason=ws.close_reason,
        rcvd=close_info(ws.close_rcvd),
        sent=close_info(ws.close_sent),
    )


async def process_request(path, headers):
    if urlsplit(path).path == "/reject":
        return (
            http.HTTPStatus.FORBIDDEN,
            [("Content-Type", "text/plain"), ("Content-Length", str(len(REJECT_BODY)))],
            REJECT_BODY,
        )
    return None


def exit_when_stdin_closes():
    sys.stdin.buffer.read()
    os._exit(0)


async def main():
    args = sys.argv[1:]
    max_size = 2**20
    subprotocols = []
    while args:
        flag = args.pop(0)
        if flag == "--max-size":
            max_size = int(args.pop(0))
        elif flag == "--subprotocol":
            subprotocols.append(args.pop(0))
        else:
            raise SystemExit(f"unknown argument: {flag}")
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    async with websockets.serve(
        handler,
        "127.0.0.1",
        0,
        max_size=max_size,
        subprotocols=subprotocols or None,
        process_request=process_request,
        # Keepalive pings would interleave with the frames tests check.
        ping_interval=None,
        # With the default 64 KiB, a rejected 64 KiB + 1 message left in the
        # buffer pauses reading, so the peer never sees our FIN and waits out
        # close_timeout twice.
        read_limit=2**20,
        close_timeout=2,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        emit(port=port)
        await asyncio.sleep(300)


asyncio.run(main())
