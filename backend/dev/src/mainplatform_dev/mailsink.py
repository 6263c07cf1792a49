"""The local stack's SMTP sink: accepts every mail on loopback and writes it to a folder as
an ``.eml`` file (``python -m mainplatform_dev.mailsink --port N --dir DIR``).

A folder of ``.eml`` files rather than a web page: any mail program opens them (links,
HTML part and all), ``grep`` and scripts read them, they survive restarts with the rest of
the state, and there is no other port or page to keep off the network. Standard library
only (asyncio): the sink speaks just enough SMTP (RFC 5321) for a client that sends.
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import re
import time
from pathlib import Path

MAX_MESSAGE = 10 * 1024 * 1024
_counter = 0


def file_name(raw: bytes) -> str:
    global _counter
    _counter += 1
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subject = str(message.get("Subject", "no subject"))
    slug = re.sub(r"[^a-z0-9]+", "-", subject.lower()).strip("-")[:60] or "mail"
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{_counter:04d}-{slug}.eml"


class Sink:
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    async def session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        await reply("220 mainplatform-dev mail sink")
        recipients: list[str] = []
        try:
            while line := await reader.readline():
                command = line.decode("utf-8", "replace").strip()
                verb = command[:4].upper()
                if verb == "EHLO":
                    await reply("250-mainplatform-dev")
                    await reply(f"250-SIZE {MAX_MESSAGE}")
                    await reply("250 8BITMIME")
                elif verb == "HELO":
                    await reply("250 mainplatform-dev")
                elif verb == "MAIL":
                    recipients = []
                    await reply("250 OK")
                elif verb == "RCPT":
                    recipients.append(command.partition(":")[2].strip().strip("<>"))
                    await reply("250 OK")
                elif verb == "DATA":
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    raw = await self._data(reader)
                    path = self.directory / file_name(raw)
                    path.write_bytes(raw)
                    print(f"mail to {', '.join(recipients)}: {path}", flush=True)
                    await reply("250 OK: kept")
                elif verb in ("RSET", "NOOP"):
                    await reply("250 OK")
                elif verb == "QUIT":
                    await reply("221 Bye")
                    break
                else:
                    await reply("502 Command not implemented")
        except ConnectionError:
            pass  # a client that hung up (the launcher's readiness probe does)
        finally:
            writer.close()

    @staticmethod
    async def _data(reader: asyncio.StreamReader) -> bytes:
        lines: list[bytes] = []
        size = 0
        while True:
            line = await reader.readline()
            if not line or line.rstrip(b"\r\n") == b".":
                break
            if line.startswith(b".."):
                line = line[1:]  # dot-stuffing
            size += len(line)
            if size <= MAX_MESSAGE:
                lines.append(line)
        return b"".join(lines)


async def serve(port: int, directory: Path) -> None:
    server = await asyncio.start_server(Sink(directory).session, "127.0.0.1", port)
    print(f"SMTP sink on 127.0.0.1:{port}, mails in {directory}", flush=True)
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mainplatform_dev.mailsink")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    args.dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args.port, args.dir))


if __name__ == "__main__":
    main()
