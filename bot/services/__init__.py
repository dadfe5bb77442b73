"""Feature services: the async orchestration between the store, the schedule and Discord.

Each is constructed by its cog with the bot's dependencies and published on `bot.services`.
"""
