"""The one error type of the object stage."""


class ObjectError(ValueError):
    """Bad object input: the message names the source (file or mesh name) and the reason.

    `source` and `reason` are also kept as attributes so batch jobs can record them.
    """

    def __init__(self, source: str, reason: str):
        self.source = str(source)
        self.reason = reason
        super().__init__(f"{self.source}: {reason}")
