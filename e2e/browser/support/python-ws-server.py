"""A Python websockets 10.4 server for the browser end-to-end tests.

Run with /usr/bin/python3 (Debian's python3-websockets). Listens on
127.0.0.1, port 0, and prints {"port": N} as its first line. With
`--tls CERT KEY` it serves wss: with that certificate and key (PEM files). The request
path selects the behaviour (as in servers.ts):

    /echo                   echo every message
    /close?code=C&reason=R  close with that code and reason at once

Exits when its stdin closes (the test run's teardown), or after an hour at
the latest, so that it never outlives a run.
"""

import asyncio
import json
import ssl
import sys
import urllib.parse

import websockets


async def handler(ws, path):
    url = urllib.parse.urlsplit(path)
    query = dict(urllib.parse.parse_qsl(url.query))
    try:
        if url.path == "/close":
            await ws.close(int(query.get("code", "1000")), query.get("reason", ""))
        else:
            async for message in ws:
                await ws.send(message)
    except websockets.ConnectionClosed:
        pass


async def main():
    context = None
    if sys.argv[1:2] == ["--tls"]:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
    server = await websockets.serve(
        handler,
        "127.0.0.1",
        0,
        # Room for the large-message tests (the default is 1 MiB).
        max_size=64 * 2**20,
        close_timeout=2,
        ssl=context,
    )
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    await asyncio.wait([stdin_closed], timeout=3600)
    server.close()
    await server.wait_closed()


asyncio.run(main())
