"""qiweek-bot: the Discord bot that runs the NHS QI Week community server."""

__version__ = "0.1.0"
