"""Interop peer: a scripted Python websockets 10.4 client (legacy asyncio API).

Run with /usr/bin/python3 (Debian's python3-websockets). Usage:

    python-client.py < script.json

The script comes on stdin (a long payload would overflow argv) and is
{"url": ..., "options": {...}, "steps": [...], "timeout": S}; options go to
websockets.connect (max_size, subprotocols, origin). Steps run in order (the
ws peer runs the same scripts: ClientStep in ../peers.ts):

    {"op": "send", "text": S} | {"op": "send", "hex": H}
    {"op": "send_fragments", "text": [S, ...]} | {"op": "send_fragments", "hex": [H, ...]}
    {"op": "recv"}                 print the next message
    {"op": "recv_until_closed"}    print messages until the connection closes
    {"op": "ping", "hex": H}       ping and print {"event": "pong", "hex": H} once answered
    {"op": "close", "code": C, "reason": R}
    {"op": "write_frame", "fin": F, "opcode": O, "hex": H, "mask": M}
                                   a raw frame, masked unless M is false

Prints one JSON line per event and always ends with {"event": "closed", ...}
(or {"event": "handshake_error", ...}); exits by itself within S seconds
(default 12).
"""

import asyncio
import json
import sys

import websockets
from websockets.frames import Frame, Opcode


def emit(**fields):
    print(json.dumps(fields), flush=True)


def emit_message(message):
    if isinstance(message, str):
        emit(event="message", type="text", text=message, size=len(message.encode()))
    else:
        emit(event="message", type="binary", hex=message.hex(), size=len(message))


def close_info(close):
    return None if close is None else [close.code, close.reason]


async def run(script):
    options = script.get("options", {})
    try:
        ws = await websockets.connect(
            script["url"],
            max_size=options.get("max_size", 2**20),
            # An empty list would still send an (empty) Sec-WebSocket-Protocol header.
            subprotocols=options.get("subprotocols") or None,
            origin=options.get("origin"),
            # Keepalive pings would interleave with the frames tests check.
            ping_interval=None,
            # With the default 64 KiB, a rejected 64 KiB + 1 message left in the
            # buffer pauses reading, so the peer never sees our FIN and waits
            # out close_timeout twice.
            read_limit=2**20,
            close_timeout=2,
            open_timeout=5,
        )
    except websockets.InvalidStatusCode as error:
        emit(event="handshake_error", type="InvalidStatusCode", status=error.status_code)
        return
    except websockets.InvalidHandshake as error:
        emit(event="handshake_error", type=type(error).__name__, message=str(error))
        return
    emit(event="open", subprotocol=ws.subprotocol)
    try:
        for step in script.get("steps", []):
            op = step["op"]
            if op == "send":
                await ws.send(step["text"] if "text" in step else bytes.fromhex(step["hex"]))
            elif op == "send_fragments":
                if "text" in step:
                    await ws.send(step["text"])
                else:
                    await ws.send([bytes.fromhex(h) for h in step["hex"]])
            elif op == "recv":
                emit_message(await ws.recv())
            elif op == "recv_until_closed":
                async for message in ws:
                    emit_message(message)
            elif op == "ping":
                waiter = await ws.ping(bytes.fromhex(step.get("hex", "")))
                await asyncio.wait_for(waiter, 30)
                emit(event="pong", hex=step.get("hex", ""))
            elif op == "close":
                await ws.close(step["code"], step.get("reason", ""))
            elif op == "write_frame":
                # Serialized here, not by ws.write_frame, which always masks
                # a client's frames; written as is, without websockets' checks.
                frame = Frame(Opcode(step["opcode"]), bytes.fromhex(step["hex"]), step["fin"])
                ws.transport.write(frame.serialize(mask=step.get("mask", True)))
            else:
                raise ValueError(f"unknown op {op}")
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    emit(
        event="closed",
        code=ws.close_code,
        reason=ws.close_reason,
        rcvd=close_info(ws.close_rcvd),
        sent=close_info(ws.close_sent),
    )


async def main():
    script = json.loads(sys.stdin.read())
    try:
        await asyncio.wait_for(run(script), script.get("timeout", 12))
    except asyncio.TimeoutError:
        emit(event="timeout")
        sys.exit(2)


asyncio.run(main())
