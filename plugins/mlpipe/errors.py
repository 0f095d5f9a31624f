"""The project's own exception types. Every message says what to change."""


class MlPipeError(Exception):
    """Base class for every error this package raises on purpose."""


class ConfigError(MlPipeError):
    """The pipeline configuration is missing, malformed or invalid."""


class SourceUnavailableError(MlPipeError):
    """A source system (database, file share, landing area) cannot be reached."""


class DataQualityError(MlPipeError):
    """Data failed a quality gate; it was quarantined, not lost."""
