"""Exception types. The command line maps ``InputError`` to exit code 2 and a one-line message."""


class MetagenError(Exception):
    """Base class of the errors metagen raises on purpose."""


class InputError(MetagenError):
    """Bad input from the user: a file, folder, option or value that cannot be used as given.

    The message names the offending file or option and says what is wrong with it.
    """


class CheckpointError(InputError):
    """A checkpoint that is missing, damaged, tampered with or belongs to another model."""


class ConfigError(InputError):
    """A configuration key or value that is unknown or invalid."""
