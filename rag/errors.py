"""Errors a user can cause. Each message says how to fix the problem in one line."""


class RagError(Exception):
    """Base of every user-facing error; the CLI prints it on one line and exits 1."""


class ConfigError(RagError):
    """A setting has an invalid value."""


class IndexMissingError(RagError):
    """There is no index and nothing to build it from."""


class EmbedderMismatchError(RagError):
    """The index was built with another embedding model."""


class CorpusPathError(RagError):
    """A path given to ingest is missing or outside the corpus dir."""


class StoreUnavailableError(RagError):
    """The vector store cannot be reached."""


class IngestLockedError(RagError):
    """Another ingest is running on the same data dir."""


class CopyTargetError(RagError):
    """`rag copy-index` was pointed at the source itself, or at an index that is not empty."""
