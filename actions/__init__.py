"""Rasa custom actions: a thin layer over the service core in bot/."""
