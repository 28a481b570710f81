"""A Python websockets 10.4 server for the WebSocket class's Node tests.

Run with /usr/bin/python3 (Debian's python3-websockets). Listens on
127.0.0.1, port 0, and prints {"port": N} as its first line. Then each
closed connection prints {"path": P, "code": C, "reason": R}: the close
frame the server received. The request path selects the behaviour:

    /echo                 echo every message
    /close?code=C&reason=R  close with that code and reason
    /invalid-utf8         send a text frame that isn't UTF-8
    /mid-frame            send half a frame, then close the TCP connection
    /subprotocol          send the negotiated subprotocol, then echo
    /reject               answer 403 instead of 101

Exits when stdin closes or after 60 seconds.
"""

import asyncio
import http
import json
import sys
import urllib.parse

import websockets


def emit(**fields):
    print(json.dumps(fields), flush=True)


async def process_request(path, headers):
    if path.startswith("/reject"):
        return http.HTTPStatus.FORBIDDEN, [("Content-Type", "text/plain")], b"Forbidden\n"
    return None


async def handler(ws, path):
    url = urllib.parse.urlsplit(path)
    query = dict(urllib.parse.parse_qsl(url.query))
    try:
        if url.path == "/close":
            await ws.close(int(query["code"]), query.get("reason", ""))
        elif url.path == "/invalid-utf8":
            ws.transport.write(b"\x81\x02\xc3\x28")
            await ws.wait_closed()
        elif url.path == "/mid-frame":
            ws.transport.write(b"\x81\x05He")
            ws.transport.close()
        else:
            if url.path == "/subprotocol":
                await ws.send(ws.subprotocol or "null")
            async for message in ws:
                await ws.send(message)
    except websockets.ConnectionClosed:
        pass
    await ws.wait_closed()
    emit(path=url.path, code=ws.close_code, reason=ws.close_reason)


async def main():
    server = await websockets.serve(
        handler,
        "127.0.0.1",
        0,
        process_request=process_request,
        subprotocols=["chat", "superchat"],
        close_timeout=2,
    )
    emit(port=server.sockets[0].getsockname()[1])
    loop = asyncio.get_running_loop()
    stdin_closed = loop.run_in_executor(None, sys.stdin.read)
    await asyncio.wait([stdin_closed], timeout=60)
    server.close()
    await server.wait_closed()


asyncio.run(main())
