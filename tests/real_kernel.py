"""A real grading kernel (``python -m autograder.kernel``, no sandbox) for the channel's tests."""

import contextlib
import sys


@contextlib.contextmanager
def started():
    """Yield (run, km): ``run(code)`` executes code in the kernel and asserts it ran without an
    error; ``km`` is its jupyter_client KernelManager. The kernel is shut down at the end."""
    from jupyter_client.kernelspec import KernelSpec
    from jupyter_client.manager import KernelManager

    km = KernelManager()
    km._kernel_spec = KernelSpec(argv=[sys.executable, "-m", "autograder.kernel", "-f", "{connection_file}"],
                                 language="python", display_name="grading kernel")
    km.start_kernel()
    client = km.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)

        def run(code):
            reply = client.execute_interactive(code, timeout=60, output_hook=lambda msg: None)
            assert reply["content"]["status"] == "ok", reply["content"]

        yield run, km
    finally:
        client.stop_channels()
        km.shutdown_kernel(now=True)
