"""Delivery: how the bot's sends reach Discord exactly once, within Discord's limits."""
