"""A slow SMTP sink: answers every command after a delay, like a relay 10 ms away.

`tc netem` is not available here, so this stands in for a distant relay. It accepts and
discards every message, counts them, and limits concurrent connections (`--max-connections`,
extra ones get `421` as real relays do). Run by hand or from bench/send.py:

    .venv/bin/python bench/slow_smtp.py --port 2526 --delay 0.010 [--latency]

By default it handles one command at a time: it waits `delay`, answers, then reads the next
command, so commands a client pipelines (RFC 2920, advertised) still cost one delay each.
With `--latency` each answer leaves `delay` after its command arrived while the next
commands are already read, which is what a relay a round trip away looks like to a
pipelining client: MAIL, RCPT and DATA sent together are answered together.
"""

from __future__ import annotations

import argparse
import asyncio
import signal

EHLO = b"250-slow-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 52428800\r\n"


class Sink:
    """Counts messages and open connections."""

    def __init__(self, delay: float, max_connections: int, latency: bool = False) -> None:
        self.delay = delay
        self.latency = latency
        self.max_connections = max_connections
        self.connections = 0
        self.messages = 0

    async def reply(self, writer: asyncio.StreamWriter, data: bytes) -> None:
        """Answer `delay` after now: at once in latency mode (in order), else wait for it."""
        if self.latency:
            asyncio.get_running_loop().call_later(self.delay, writer.write, data)
            return
        await asyncio.sleep(self.delay)
        writer.write(data)
        await writer.drain()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.connections >= self.max_connections:
            writer.write(b"421 4.7.0 too many connections\r\n")
            await writer.drain()
            writer.close()
            return
        self.connections += 1
        try:
            await self.reply(writer, b"220 slow-sink ESMTP\r\n")
            while line := await reader.readline():
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    await self.reply(writer, EHLO)
                elif verb == b"DATA":
                    await self.reply(writer, b"354 go ahead\r\n")
                    await reader.readuntil(b"\r\n.\r\n")
                    self.messages += 1
                    await self.reply(writer, b"250 2.0.0 queued\r\n")
                elif verb == b"QUIT":
                    await self.reply(writer, b"221 bye\r\n")
                    await asyncio.sleep(self.delay if self.latency else 0)
                    break
                else:
                    await self.reply(writer, b"250 ok\r\n")
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self.connections -= 1
            writer.close()


async def serve(
    host: str, port: int, delay: float, max_connections: int, latency: bool = False
) -> None:
    """Serve until SIGTERM/SIGINT; print the message count on exit."""
    sink = Sink(delay, max_connections, latency)
    server = await asyncio.start_server(sink.handle, host, port, backlog=1024)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"slow sink on {host}:{port}, {delay * 1000:.0f} ms per reply", flush=True)
    async with server:
        await stop.wait()
    print(f"slow sink received {sink.messages} messages", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2526)
    parser.add_argument("--delay", type=float, default=0.010)
    parser.add_argument("--max-connections", type=int, default=200)
    parser.add_argument("--latency", action="store_true", help="answer pipelined commands together")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.delay, args.max_connections, args.latency))


if __name__ == "__main__":
    main()
