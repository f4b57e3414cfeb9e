"""Echo server on Python's `websockets` (asyncio), a benchmark peer for wshd.

Every text or binary message comes back as it came. Flags have the shape of wshd's
`examples/echo` (--host, --port, --threads; asyncio serves on one thread, so --threads is
accepted and ignored). Prints `listening on ADDR` once bound. Keepalive pings and
compression are off, as in the other peers. Not part of wshd.
"""

import argparse
import asyncio

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main(args):
    async with serve(echo, args.host, args.port, compression=None, ping_interval=None,
                     backlog=4096) as server:
        host, port = server.sockets[0].getsockname()[:2]
        print(f"listening on {host}:{port}", flush=True)
        await asyncio.get_running_loop().create_future()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=9001)
    parser.add_argument("--threads", type=int, default=None, help="ignored (one thread)")
    try:
        asyncio.run(main(parser.parse_args()))
    except KeyboardInterrupt:
        pass
