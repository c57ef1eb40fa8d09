"""moto's S3 API in server mode on 127.0.0.1:PORT; prints READY when it answers."""

from __future__ import annotations

import sys
import time
import urllib.request

from moto.server import ThreadedMotoServer


def main() -> None:
    port = int(sys.argv[1])
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    for _ in range(200):
        try:
            opener.open(f"http://127.0.0.1:{port}/moto-api/", timeout=1).read()
            break
        except OSError:
            time.sleep(0.05)
    print("READY", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
