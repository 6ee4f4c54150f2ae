"""The one exception type a user can cause with datasets: a bad config entry, missing or corrupt files."""


class DatasetError(ValueError):
    """A dataset problem the user can fix; the message is one sentence naming the key or file."""
