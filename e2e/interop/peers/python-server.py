"""Interop peer: a Python websockets 10.4 server (legacy asyncio API).

Run with /usr/bin/python3 (Debian's python3-websockets). Usage:

    python-server.py [--max-size N] [--subprotocol NAME ...]

Listens on 127.0.0.1 port 0 and prints {"port": N} as its first stdout line.
One process serves a peer's whole suite: the request path selects what each
connection does, in the same modes as the ws peer's server (the list, with
what each mode does, is PeerServer's in ../peers.ts):

    /echo  /send  /fragments  /close  /ping  /write-frame  /subprotocol  /reject

Every connection carries ?id=... and, once closed, prints a JSON line with
that id and the close frames seen, because after the close the test can't
ask the peer anything over the WebSocket. Any path takes ?max_size=N to limit
incoming messages on that connection. Exits when stdin closes (the test
runner died) or after 5 minutes.
"""

import asyncio
import http
import json
import os
import sys
import threading
from urllib.parse import parse_qs, urlsplit

import websockets
from websockets.frames import Frame, Opcode


def emit(**fields):
    print(json.dumps(fields), flush=True)


def close_info(close):
    return None if close is None else [close.code, close.reason]


async def echo(ws):
    async for message in ws:
        await ws.send(message)


def parse(path):
    url = urlsplit(path)
    return url, {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}


async def handler(ws):
    url, query = parse(ws.path)
    if "max_size" in query:
        ws.max_size = int(query["max_size"])
    mode = url.path
    try:
        if mode == "/echo":
            await echo(ws)
        elif mode == "/send":
            text = query["type"] == "text"
            parts = ["x" * int(n) if text else b"\x5a" * int(n) for n in query["sizes"].split(",")]
            await ws.send(parts[0] if len(parts) == 1 else parts)
            await echo(ws)
        elif mode == "/fragments":
            await ws.send(json.loads(query["text"]))
            await ws.send([bytes.fromhex(h) for h in json.loads(query["hex"])])
            await echo(ws)
        elif mode == "/close":
            await ws.close(int(query["code"]), query.get("reason", ""))
        elif mode == "/ping":
            data = query["data"]
            waiter = await ws.ping(data)
            await asyncio.wait_for(waiter, 30)
            await ws.send(f"got pong: {data}")
            await echo(ws)
        elif mode == "/write-frame":
            # Serialized here, not by ws.write_frame, which masks as the
            # role says; written as is, without websockets' checks.
            frame = Frame(Opcode(int(query["opcode"])), bytes.fromhex(query["hex"]))
            ws.transport.write(frame.serialize(mask=query.get("mask") == "1"))
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
    url, query = parse(path)
    if url.path == "/reject":
        body = query.get("body", "").encode()
        return (
            http.HTTPStatus.FORBIDDEN,
            [
                ("Content-Type", "text/plain"),
                ("Content-Length", str(len(body))),
                ("X-Reason", query.get("reason", "")),
            ],
            body,
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
