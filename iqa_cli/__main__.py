from .commands import entry

entry()
