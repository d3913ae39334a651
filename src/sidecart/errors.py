"""The one error type the command line turns into a single clear line and a non-zero exit."""


class SidecartError(Exception):
    """A problem with the environment or configuration that the user can fix.

    The message is the whole story: it names the file, port, component or tool and says what
    to do, so the command line prints it alone, without a traceback.
    """
