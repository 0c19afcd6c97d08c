"""Run the service on a chosen asyncio event loop, without touching service/.

    python loop_main.py asyncio|uvloop [python -m service flags...]

bench/loops.py copies this file, with uvloop beside it, into build/bench/loop/, which
the benchmark mounts into a container of the venv image (a whole standard library, so
uvloop finds every module it imports). Both loops run through this same file, so
the only difference between the two containers is the loop. It prints the loop class
it got, so the benchmark can check that the switch took effect.
"""

import asyncio
import sys


def main() -> int:
    loop, *argv = sys.argv[1:]
    if loop == "uvloop":
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())  # asyncio.run() asks it
    elif loop != "asyncio":
        sys.exit(f"loop_main.py: unknown loop {loop!r} (asyncio or uvloop)")
    probe = asyncio.new_event_loop()
    print(f"event loop: {type(probe).__module__}.{type(probe).__name__}", flush=True)
    probe.close()
    from service.__main__ import main as service_main

    return service_main(argv)


if __name__ == "__main__":
    sys.exit(main())
