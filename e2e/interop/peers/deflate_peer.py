"""Interop peer for permessage-deflate: Python websockets 10.4 (legacy asyncio API).

Run with /usr/bin/python3 (Debian's python3-websockets). Usage:

    deflate_peer.py server CONFIG
    deflate_peer.py client URI CONFIG

CONFIG is JSON: keyword arguments of websockets' Server/ClientPerMessageDeflateFactory
(server_no_context_takeover, client_no_context_takeover, server_max_window_bits,
client_max_window_bits, compress_settings), plus "max_size".

Both roles echo every message they receive. Messages larger than 64 KiB are
echoed fragmented in three frames, so both kinds of compressed messages flow.

The server prints {"port": N} first. Every connection, once closed, prints
{"event": "closed", "extensions": [...], "received": N, "code": C}.
Exits when stdin closes (the test runner died) or after 2 minutes.
"""

import asyncio
import json
import os
import sys
import threading

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)


def emit(**fields):
    print(json.dumps(fields), flush=True)


def fragments(message):
    third = len(message) // 3
    return [message[:third], message[third : 2 * third], message[2 * third :]]


async def echo(ws):
    received = 0
    try:
        async for message in ws:
            received += 1
            if len(message) > 65536:
                await ws.send(fragments(message))
            else:
                await ws.send(message)
    finally:
        emit(
            event="closed",
            extensions=[repr(e) for e in ws.extensions],
            received=received,
            code=ws.close_code,
        )


# No keepalive pings: on a busy machine a pong can take longer than the
# default 20 s behind megabytes of compressed echo, and websockets then
# closes the connection (1011) in the middle of the test.
KEEPALIVE = {"ping_interval": None}


def split_config(config):
    config = dict(config)
    max_size = config.pop("max_size", 2**20)
    return config, max_size


async def serve(config):
    factory_config, max_size = split_config(config)
    async with websockets.serve(
        echo,
        "127.0.0.1",
        0,
        compression=None,
        extensions=[ServerPerMessageDeflateFactory(**factory_config)],
        max_size=max_size,
        **KEEPALIVE,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        emit(port=port)
        await asyncio.sleep(120)


async def connect(uri, config):
    factory_config, max_size = split_config(config)
    async with websockets.connect(
        uri,
        compression=None,
        extensions=[ClientPerMessageDeflateFactory(**factory_config)],
        max_size=max_size,
        open_timeout=10,
        **KEEPALIVE,
    ) as ws:
        await echo(ws)


def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)


def main():
    threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
    role = sys.argv[1]
    if role == "server":
        coroutine = serve(json.loads(sys.argv[2]))
    else:
        coroutine = connect(sys.argv[2], json.loads(sys.argv[3]))
    try:
        asyncio.run(asyncio.wait_for(coroutine, 120))
    except asyncio.TimeoutError:
        pass


if __name__ == "__main__":
    main()
